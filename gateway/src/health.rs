//! `GET /healthz`: 200 `{status: "ok", services: {...}}` when every service behind the
//! gateway answers `grpc.health.v1` SERVING, else 503 with the error JSON (reason
//! UPSTREAM_UNAVAILABLE) and the same `services` map.

use crate::error::RestError;
use crate::rest::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lms_platform::error::ApiError;
use serde_json::{Map, Value, json};
use std::time::Duration;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long one service may take to answer its health check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

async fn check(ch: Channel) -> &'static str {
    let mut req = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    req.set_timeout(CHECK_TIMEOUT);
    let mut client = HealthClient::new(ch);
    match tokio::time::timeout(CHECK_TIMEOUT, client.check(req)).await {
        Ok(Ok(res)) => match res.into_inner().status() {
            ServingStatus::Serving => "SERVING",
            ServingStatus::NotServing => "NOT_SERVING",
            _ => "UNKNOWN",
        },
        Ok(Err(_)) | Err(_) => "UNREACHABLE",
    }
}

/// The handler.
pub async fn healthz(State(s): State<AppState>) -> Response {
    let up = &s.up;
    let (uam, config, lead, notify, report) = tokio::join!(
        check(up.uam.clone()),
        check(up.config.clone()),
        check(up.lead.clone()),
        check(up.notify.clone()),
        check(up.report.clone()),
    );
    let all = [
        ("uam", uam),
        ("config", config),
        ("lead", lead),
        ("notify", notify),
        ("report", report),
    ];
    let services: Map<String, Value> = all
        .iter()
        .map(|(n, st)| ((*n).to_string(), Value::from(*st)))
        .collect();
    let down: Vec<&str> = all
        .iter()
        .filter(|(_, st)| *st != "SERVING")
        .map(|(n, _)| *n)
        .collect();
    if down.is_empty() {
        return Json(json!({"status": "ok", "services": services})).into_response();
    }
    let err = RestError(ApiError::new(
        tonic::Code::Unavailable,
        "UPSTREAM_UNAVAILABLE",
        format!("not serving: {}", down.join(", ")),
    ));
    let status = err.http_status();
    let mut body = err.body();
    if let Some(o) = body.as_object_mut() {
        o.insert("services".into(), Value::Object(services));
    }
    (status, Json(body)).into_response()
}
