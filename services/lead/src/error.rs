//! The lead service's errors and their stable reasons. The platform's error table turns
//! each into a gRPC code and an HTTP status.

use lms_platform::error::{ApiError, Violation};
use tonic::Code;

/// The one generic message of every rejected form token: it never tells which part failed.
const BAD_TOKEN: &str = "the form signature is invalid or expired; fetch a new render package";

/// Everything that can go wrong in the lead service.
#[derive(Debug, thiserror::Error)]
pub enum LeadError {
    /// Bad input: INVALID_ARGUMENT with a reason and field violations.
    #[error("{reason}: invalid input")]
    Invalid {
        /// Stable reason, e.g. `INVALID_ARGUMENT`, `FORM_INVALID`.
        reason: &'static str,
        /// What is wrong, per field.
        violations: Vec<Violation>,
    },
    /// `formData` is larger than the limit (HTTP 413).
    #[error("formData is too large")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No version of the product has this config hash.
    #[error("unknown config hash")]
    ConfigHashUnknown,
    /// No product has this code.
    #[error("unknown product")]
    ProductNotFound,
    /// The form token is missing, forged, for another product/version/hash, or used.
    #[error("invalid form signature")]
    InvalidFormSignature,
    /// The form token has expired.
    #[error("expired form signature")]
    FormSignatureExpired,
    /// The request's `Origin` is not among the product's allowed origins.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// The product needs a captcha mode this release does not verify (fail closed).
    #[error("captcha mode not supported")]
    CaptchaUnsupported,
    /// The idempotency key was used with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    /// No visible lead with this id.
    #[error("lead not found")]
    NotFound,
    /// The caller's `version` is stale.
    #[error("lead version conflict")]
    VersionConflict,
    /// Concurrent duplicates of one submission kept winning the race to write.
    #[error("submission contended")]
    Contended,
    /// Moving a lead out of a terminal status without being ADMIN.
    #[error("invalid status transition")]
    InvalidStatusTransition,
    /// An update-mask path that is not writable.
    #[error("field {0} is not writable")]
    FieldNotWritable(String),
    /// An agent tried to give a lead to someone else.
    #[error("agents may not reassign leads")]
    AssignmentNotAllowed,
    /// The new assignee is not an enabled user.
    #[error("unknown assignee")]
    AssigneeUnknown {
        /// Field path of the assignee.
        field: String,
    },
    /// A peer (config, uam) failed in a way the caller cannot fix.
    #[error("peer call failed: {0}")]
    Upstream(ApiError),
    /// The database failed.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    /// Stored data we cannot read back (a bug or manual edits).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A new lead could not be written (its batch failed, or the writers are gone). As a
    /// rule nothing of it was; when the connection broke at commit the outcome is
    /// unknown. Either way the request may be sent again: a lead already stored refuses
    /// its used form token, so it is never stored twice.
    #[error("the lead could not be written: {0}")]
    WriteUnavailable(String),
}

impl LeadError {
    /// INVALID_ARGUMENT for one field, reason `INVALID_ARGUMENT`.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid {
            reason: "INVALID_ARGUMENT",
            violations: vec![Violation::new(field, description)],
        }
    }
}

fn message_of(violations: &[Violation], fallback: &str) -> String {
    match violations {
        [] => fallback.to_string(),
        [one] => format!("{}: {}", one.field, one.description),
        [first, rest @ ..] => format!(
            "{}: {} (and {} more)",
            first.field,
            first.description,
            rest.len()
        ),
    }
}

impl From<LeadError> for ApiError {
    fn from(e: LeadError) -> Self {
        match e {
            LeadError::Invalid { reason, violations } => {
                let message = message_of(&violations, "invalid input");
                ApiError::invalid(reason, message, violations)
            }
            LeadError::PayloadTooLarge { limit } => ApiError::invalid(
                "PAYLOAD_TOO_LARGE",
                format!("formData is larger than {limit} bytes"),
                vec![Violation::new("formData", format!("at most {limit} bytes"))],
            ),
            LeadError::ConfigHashUnknown => ApiError::invalid(
                "CONFIG_HASH_UNKNOWN",
                "configHash matches no version of this product",
                vec![Violation::new(
                    "configHash",
                    "matches no version of this product",
                )],
            ),
            LeadError::ProductNotFound => ApiError {
                violations: vec![Violation::new("productCode", "no such product")],
                ..ApiError::not_found("PRODUCT_NOT_FOUND", "no product has this productCode")
            },
            LeadError::InvalidFormSignature => ApiError {
                violations: vec![Violation::new(
                    "signature",
                    "is missing, not ours, for another form, or already used",
                )],
                ..ApiError::new(Code::Unauthenticated, "INVALID_FORM_SIGNATURE", BAD_TOKEN)
            },
            LeadError::FormSignatureExpired => ApiError {
                violations: vec![Violation::new("signature", "has expired")],
                ..ApiError::new(Code::Unauthenticated, "FORM_SIGNATURE_EXPIRED", BAD_TOKEN)
            },
            LeadError::OriginNotAllowed => ApiError::new(
                Code::PermissionDenied,
                "ORIGIN_NOT_ALLOWED",
                "this form may not be submitted from this site (the product's allowed origins)",
            ),
            LeadError::CaptchaUnsupported => ApiError::new(
                Code::FailedPrecondition,
                "CAPTCHA_UNSUPPORTED",
                "this product's captcha mode cannot be verified; submission refused",
            ),
            LeadError::IdempotencyKeyReused => ApiError::invalid(
                "IDEMPOTENCY_KEY_REUSED",
                "this idempotency key was used with a different request",
                vec![Violation::new(
                    "idempotencyKey",
                    "was used with a different request",
                )],
            ),
            LeadError::NotFound => ApiError::not_found("LEAD_NOT_FOUND", "lead not found"),
            LeadError::Contended => ApiError::new(
                Code::Aborted,
                "SUBMISSION_CONTENDED",
                "the same lead is being submitted concurrently; retry",
            ),
            LeadError::VersionConflict => ApiError::new(
                Code::Aborted,
                "LEAD_VERSION_CONFLICT",
                "the lead was changed by someone else; reload it and retry",
            ),
            LeadError::InvalidStatusTransition => ApiError::new(
                Code::FailedPrecondition,
                "INVALID_STATUS_TRANSITION",
                "a closed lead can only be reopened by an ADMIN",
            ),
            LeadError::FieldNotWritable(field) => ApiError::invalid(
                "FIELD_NOT_WRITABLE",
                format!("{field} is not writable"),
                vec![Violation::new(
                    field,
                    "is not writable (writable: status, priority, assignee, leadComment)",
                )],
            ),
            LeadError::AssignmentNotAllowed => ApiError::new(
                Code::PermissionDenied,
                "ASSIGNMENT_NOT_ALLOWED",
                "agents may not reassign leads",
            ),
            LeadError::AssigneeUnknown { field } => ApiError::invalid(
                "ASSIGNEE_UNKNOWN",
                "the assignee is not an enabled user",
                vec![Violation::new(field, "is not an enabled user")],
            ),
            LeadError::Upstream(e) => e,
            LeadError::Db(e) => ApiError::from(e),
            LeadError::Corrupt(_) => ApiError::internal(&e),
            // Logged where it happened, once per batch.
            LeadError::WriteUnavailable(_) => {
                ApiError::unavailable("the lead could not be stored now; send it again")
            }
        }
    }
}

impl From<LeadError> for tonic::Status {
    fn from(e: LeadError) -> Self {
        ApiError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_http_statuses() {
        let cases = [
            (
                LeadError::IdempotencyKeyReused,
                "IDEMPOTENCY_KEY_REUSED",
                422,
            ),
            (LeadError::VersionConflict, "LEAD_VERSION_CONFLICT", 409),
            (LeadError::NotFound, "LEAD_NOT_FOUND", 404),
            (
                LeadError::InvalidFormSignature,
                "INVALID_FORM_SIGNATURE",
                401,
            ),
            (
                LeadError::PayloadTooLarge { limit: 1 },
                "PAYLOAD_TOO_LARGE",
                413,
            ),
            (
                LeadError::InvalidStatusTransition,
                "INVALID_STATUS_TRANSITION",
                400,
            ),
            (
                LeadError::WriteUnavailable("pool timed out".into()),
                "UNAVAILABLE",
                503,
            ),
        ];
        for (e, reason, http) in cases {
            let api = ApiError::from(e);
            assert_eq!((api.reason.as_str(), api.http_status()), (reason, http));
        }
    }
}
