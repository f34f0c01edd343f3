//! Native gRPC on the gateway port: the gateway's own `grpc.health.v1` (the gateway's
//! status, under the service name "") and reflection v1 and v1alpha over every LMS proto,
//! so `grpcurl -plaintext <gateway> list` shows every service; every `lms.<svc>.v1.*` call
//! is proxied to that service's channel, headers and bodies streamed both ways
//! (server streams such as `LeadService.StreamEvents` included). grpc-web reaches the
//! same service after tonic-web has translated it.
//!
//! Forwarded headers: everything the client sent except hop-by-hop headers, the mesh key
//! (`x-lms-service-key`: only the mesh's own services may present it, never a client
//! through the gateway) and client-address headers, which the gateway sets itself
//! (`x-forwarded-for` = the resolved client). `x-request-id` and `traceparent` are the
//! gateway's (same id as its own log lines; trace context of its span).

use crate::Upstreams;
use crate::client_ip::{ClientIp, FORWARDED_FOR};
use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response, Version};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::service::Routes;
use tonic::transport::Channel;
use tower::ServiceExt;

/// Headers never passed upstream as the client sent them.
const DROPPED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    lms_platform::auth::SERVICE_KEY_HEADER,
    FORWARDED_FOR,
    "forwarded",
    "x-real-ip",
];

/// Builds the gateway's own health and reflection routes; returns them with the health
/// reporter (flipped to NOT_SERVING on shutdown).
pub fn local_routes() -> anyhow::Result<(Routes, tonic_health::server::HealthReporter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(lms_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(lms_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let routes = Routes::new(health)
        .add_service(v1)
        .add_service(v1alpha)
        .prepare();
    Ok((routes, reporter))
}

/// The gRPC side of the gateway (after grpc-web translation, if any).
#[derive(Clone)]
pub struct GrpcDispatch {
    local: Routes,
    up: Arc<Upstreams>,
}

impl GrpcDispatch {
    /// Creates the dispatcher.
    pub fn new(local: Routes, up: Arc<Upstreams>) -> Self {
        Self { local, up }
    }

    /// The channel serving a method path, by package prefix.
    fn upstream(&self, path: &str) -> Option<&Channel> {
        let prefixes: [(&str, &Channel); 5] = [
            ("/lms.uam.v1.", &self.up.uam),
            ("/lms.config.v1.", &self.up.config),
            ("/lms.lead.v1.", &self.up.lead),
            ("/lms.notify.v1.", &self.up.notify),
            ("/lms.report.v1.", &self.up.report),
        ];
        prefixes
            .into_iter()
            .find(|(p, _)| path.starts_with(p))
            .map(|(_, c)| c)
    }
}

impl tower::Service<Request<Body>> for GrpcDispatch {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let path = req.uri().path();
        if path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.") {
            let local = self.local.clone();
            return Box::pin(local.oneshot(req));
        }
        match self.upstream(path) {
            Some(ch) => {
                let ch = ch.clone();
                Box::pin(async move { Ok(forward(ch, req).await) })
            }
            None => {
                let status = tonic::Status::unimplemented(format!(
                    "the gateway serves no gRPC method {path}"
                ));
                Box::pin(futures::future::ready(Ok(status.into_http())))
            }
        }
    }
}

/// Sends one call to `ch` and returns its answer as it streams.
async fn forward(ch: Channel, req: Request<Body>) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    for h in DROPPED_HEADERS {
        parts.headers.remove(*h);
    }
    if let Some(v) = parts
        .extensions
        .get::<ClientIp>()
        .and_then(|ip| HeaderValue::from_str(&ip.0.to_string()).ok())
    {
        parts.headers.insert(FORWARDED_FOR, v);
    }
    lms_platform::telemetry::inject_headers(&mut parts.headers);
    parts.version = Version::HTTP_2;
    match ch.oneshot(Request::from_parts(parts, body)).await {
        Ok(res) => res,
        Err(e) => {
            tracing::warn!(error = %e, "upstream unreachable");
            tonic::Status::unavailable("the service behind the gateway is unavailable").into_http()
        }
    }
}
