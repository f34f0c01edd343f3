//! Error codes shared by every service and the gateway: one table maps a stable reason
//! (`LEAD_NOT_FOUND`) to its gRPC code and HTTP status. A `Status` carries the reason in a
//! `google.rpc.ErrorInfo` and field violations in a `google.rpc.BadRequest`, so the
//! gateway can render `{status, reason, message, violations, requestId}` without guessing.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every LMS error.
pub const ERROR_DOMAIN: &str = "lms";

/// One invalid field: its path in the request (e.g. `formData.email`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// Path of the field, dotted, in the request's JSON (camelCase) naming.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl Violation {
    /// Creates a violation.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// An error meant for the caller: code, stable reason, message and violations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// gRPC code.
    pub code: Code,
    /// Stable machine-readable reason, UPPER_SNAKE.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Field violations (for INVALID_ARGUMENT).
    pub violations: Vec<Violation>,
}

impl ApiError {
    /// Creates an error with the given code, reason and message.
    pub fn new(code: Code, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// INVALID_ARGUMENT listing every violation.
    pub fn invalid(
        reason: impl Into<String>,
        message: impl Into<String>,
        violations: Vec<Violation>,
    ) -> Self {
        Self {
            code: Code::InvalidArgument,
            reason: reason.into(),
            message: message.into(),
            violations,
        }
    }

    /// INVALID_ARGUMENT for one field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let v = Violation::new(field, description);
        let message = format!("{}: {}", v.field, v.description);
        Self::invalid("INVALID_ARGUMENT", message, vec![v])
    }

    /// NOT_FOUND with a reason such as `LEAD_NOT_FOUND`.
    pub fn not_found(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, reason, message)
    }

    /// UNAUTHENTICATED with one generic message.
    pub fn unauthenticated(reason: impl Into<String>) -> Self {
        Self::new(
            Code::Unauthenticated,
            reason,
            "authentication required or invalid",
        )
    }

    /// PERMISSION_DENIED.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::PermissionDenied, "PERMISSION_DENIED", message)
    }

    /// INTERNAL: logs the cause with its chain and answers a generic message.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut src = cause.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            Code::Internal,
            "INTERNAL",
            "internal error; see the server log for this request id",
        )
    }

    /// UNAVAILABLE (e.g. the database pool timed out); the caller may retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, "UNAVAILABLE", message)
    }

    /// Decodes an `ApiError` from a `Status` produced by [`From<ApiError> for Status`];
    /// a plain status gets its code's default reason.
    pub fn from_status(status: &Status) -> Self {
        let details = status.get_error_details();
        let reason = details
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_else(|| default_reason(status.code()).to_string());
        let violations = details
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| Violation::new(v.field.clone(), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code: status.code(),
            reason,
            message: status.message().to_string(),
            violations,
        }
    }

    /// The HTTP status of this error, from the error table.
    pub fn http_status(&self) -> u16 {
        http_status(self.code, &self.reason)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        let mut details = ErrorDetails::with_error_info(e.reason.clone(), ERROR_DOMAIN, []);
        if !e.violations.is_empty() {
            details.set_bad_request(
                e.violations
                    .iter()
                    .map(|v| {
                        tonic_types::FieldViolation::new(v.field.clone(), v.description.clone())
                    })
                    .collect::<Vec<_>>(),
            );
        }
        Status::with_error_details(e.code, e.message, details)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut => Self::unavailable("database busy; retry"),
            _ => Self::internal(&e),
        }
    }
}

/// The reason used when a status carries none.
pub fn default_reason(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Unavailable => "UNAVAILABLE",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::Cancelled => "CANCELLED",
        Code::OutOfRange => "OUT_OF_RANGE",
        _ => "INTERNAL",
    }
}

/// Reasons whose HTTP status differs from their gRPC code's usual mapping.
const HTTP_OVERRIDES: &[(&str, u16)] = &[
    ("IDEMPOTENCY_KEY_REUSED", 422),
    ("PAYLOAD_TOO_LARGE", 413),
    ("UNSUPPORTED_MEDIA_TYPE", 415),
    ("MALFORMED_JSON", 400),
];

/// The error table: HTTP status for a gRPC code and reason.
pub fn http_status(code: Code, reason: &str) -> u16 {
    if let Some((_, s)) = HTTP_OVERRIDES.iter().find(|(r, _)| *r == reason) {
        return *s;
    }
    match code {
        Code::Ok => 200,
        Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Cancelled => 499,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_reason_and_violations() {
        let e = ApiError::invalid(
            "FORM_INVALID",
            "formData is invalid",
            vec![Violation::new("formData.email", "not an e-mail")],
        );
        let status: Status = e.clone().into();
        assert_eq!(ApiError::from_status(&status), e);
        assert_eq!(e.http_status(), 400);
    }

    #[test]
    fn overrides_win_over_code() {
        assert_eq!(
            http_status(Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED"),
            422
        );
        assert_eq!(http_status(Code::Aborted, "LEAD_VERSION_CONFLICT"), 409);
        assert_eq!(
            ApiError::from_status(&Status::not_found("x")).reason,
            "NOT_FOUND"
        );
    }
}
