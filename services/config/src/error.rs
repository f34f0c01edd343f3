//! The config service's errors and their stable reasons.

use crate::domain::TokenError;
use lms_platform::{ApiError, Violation};
use tonic::Code;

/// Everything the config service can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No product has this code.
    #[error("product {0} not found")]
    ProductNotFound(String),
    /// The product code is taken.
    #[error("product {0} already exists")]
    ProductExists(String),
    /// The product fails its checks on save.
    #[error("the product configuration is invalid")]
    Invalid(Vec<Violation>),
    /// Optimistic concurrency: the product moved on.
    #[error("product is at version {current}, not {expected}")]
    VersionConflict {
        /// The version the caller expected.
        expected: i32,
        /// The current version.
        current: i64,
    },
    /// The product exists but not this version or hash.
    #[error("product {0} has no such version")]
    VersionNotFound(String),
    /// The request's `Origin` is not among the product's allowed origins.
    #[error("origin not allowed for product {0}")]
    OriginNotAllowed(String),
    /// A form token failed verification.
    #[error(transparent)]
    FormToken(#[from] TokenError),
    /// A stored version no longer parses (a bug or a manual edit).
    #[error("stored version {code} v{version} is unreadable")]
    Corrupt {
        /// Product code.
        code: String,
        /// Version.
        version: i64,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Serialising content failed (not expected for valid content).
    #[error("content could not be serialised")]
    Serialise(#[source] serde_json::Error),
    /// The database failed.
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::ProductNotFound(code) => {
                ApiError::not_found("PRODUCT_NOT_FOUND", format!("product {code} not found"))
            }
            ConfigError::ProductExists(code) => ApiError::new(
                Code::AlreadyExists,
                "PRODUCT_EXISTS",
                format!("product {code} already exists"),
            ),
            ConfigError::Invalid(violations) => {
                let message = match violations.as_slice() {
                    [one] => format!(
                        "the product configuration is invalid: {}: {}",
                        one.field, one.description
                    ),
                    many => format!(
                        "the product configuration is invalid ({} problems; see violations)",
                        many.len()
                    ),
                };
                ApiError::invalid("PRODUCT_INVALID", message, violations)
            }
            e @ ConfigError::VersionConflict { .. } => {
                ApiError::new(Code::Aborted, "PRODUCT_VERSION_CONFLICT", e.to_string())
            }
            ConfigError::VersionNotFound(code) => ApiError::not_found(
                "PRODUCT_VERSION_NOT_FOUND",
                format!("product {code} has no such version"),
            ),
            ConfigError::OriginNotAllowed(_) => ApiError::new(
                Code::PermissionDenied,
                "ORIGIN_NOT_ALLOWED",
                "this form may not be embedded on this site (the product's allowed origins)",
            ),
            ConfigError::FormToken(TokenError::Invalid) => ApiError::new(
                Code::Unauthenticated,
                "INVALID_FORM_SIGNATURE",
                "the form signature is invalid",
            ),
            ConfigError::FormToken(TokenError::Expired) => ApiError::new(
                Code::Unauthenticated,
                "FORM_SIGNATURE_EXPIRED",
                "the form signature has expired; fetch a new render package",
            ),
            ConfigError::Db(e) => ApiError::from(e),
            e @ (ConfigError::Corrupt { .. } | ConfigError::Serialise(_)) => ApiError::internal(&e),
        }
    }
}
