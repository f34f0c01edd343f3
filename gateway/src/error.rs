//! The REST error body. Every non-2xx answer of the REST front is
//! `{status, reason, message, violations: [{field, description}], requestId}`, where
//! `status` is the HTTP status from the platform's error table
//! (`ApiError::from_status(&status).http_status()`), so the gateway never invents a
//! mapping of its own for an upstream error.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lms_platform::error::{ApiError, Violation};
use tonic::Code;

/// An error answered as the REST error JSON.
#[derive(Debug)]
pub struct RestError(pub ApiError);

impl RestError {
    /// 400 naming one field.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self(ApiError::invalid_field(field, description))
    }

    /// 400 listing violations under a reason.
    pub fn invalid(reason: &str, message: impl Into<String>, violations: Vec<Violation>) -> Self {
        Self(ApiError::invalid(reason, message, violations))
    }

    /// 400 MALFORMED_JSON.
    pub fn malformed_json(message: impl Into<String>) -> Self {
        Self(ApiError::new(
            Code::InvalidArgument,
            "MALFORMED_JSON",
            message,
        ))
    }

    /// 413 PAYLOAD_TOO_LARGE.
    pub fn too_large(limit: usize) -> Self {
        Self(ApiError::new(
            Code::InvalidArgument,
            "PAYLOAD_TOO_LARGE",
            format!("the request body is larger than {limit} bytes"),
        ))
    }

    /// 415 UNSUPPORTED_MEDIA_TYPE.
    pub fn unsupported_media_type() -> Self {
        Self(ApiError::new(
            Code::InvalidArgument,
            "UNSUPPORTED_MEDIA_TYPE",
            "this route takes a JSON body: send Content-Type: application/json",
        ))
    }

    /// 404 for a path the gateway does not serve.
    pub fn no_route() -> Self {
        Self(ApiError::not_found(
            "ROUTE_NOT_FOUND",
            "no such path; see /openapi.json",
        ))
    }

    /// 405 for a known path with another method.
    pub fn method_not_allowed() -> Self {
        Self(ApiError::new(
            Code::Unimplemented,
            "METHOD_NOT_ALLOWED",
            "this path does not take this method; see /openapi.json",
        ))
    }

    /// 403 for a state-changing browser request from an origin outside the allowlist.
    pub fn origin_not_allowed() -> Self {
        Self(ApiError::new(
            Code::PermissionDenied,
            "ORIGIN_NOT_ALLOWED",
            "requests from this origin are not allowed",
        ))
    }

    /// 500 for an upstream answer the gateway cannot render (a contract break).
    pub fn bad_upstream(what: &str) -> Self {
        tracing::error!(what, "upstream answer does not fit the REST contract");
        Self(ApiError::new(
            Code::Internal,
            "INTERNAL",
            "internal error; see the server log for this request id",
        ))
    }

    /// The HTTP status of this error.
    pub fn http_status(&self) -> StatusCode {
        let code = match self.0.reason.as_str() {
            // Reasons of the gateway itself whose status is not its gRPC code's.
            "METHOD_NOT_ALLOWED" => 405,
            "ROUTE_NOT_FOUND" => 404,
            _ => self.0.http_status(),
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.http_status().as_u16(),
            "reason": self.0.reason,
            "message": self.0.message,
            "violations": self.0.violations.iter()
                .map(|v| serde_json::json!({"field": v.field, "description": v.description}))
                .collect::<Vec<_>>(),
            "requestId": lms_platform::telemetry::current_request_id(),
        })
    }
}

impl From<tonic::Status> for RestError {
    fn from(s: tonic::Status) -> Self {
        Self(ApiError::from_status(&s))
    }
}

impl From<ApiError> for RestError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = self.http_status();
        let mut res = (status, Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_statuses_keep_reason_violations_and_table_status() {
        let api = ApiError::invalid(
            "FORM_INVALID",
            "formData is invalid",
            vec![Violation::new("formData.email", "not an e-mail")],
        );
        let e = RestError::from(tonic::Status::from(api));
        assert_eq!(e.http_status(), StatusCode::BAD_REQUEST);
        let body = e.body();
        assert_eq!(body["status"], 400);
        assert_eq!(body["reason"], "FORM_INVALID");
        assert_eq!(body["violations"][0]["field"], "formData.email");
        let conflict = RestError::from(tonic::Status::aborted("stale"));
        assert_eq!(conflict.http_status(), StatusCode::CONFLICT);
        assert_eq!(
            RestError::too_large(10).http_status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            RestError::unsupported_media_type().http_status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            RestError::method_not_allowed().http_status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
