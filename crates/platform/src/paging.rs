//! Paging: size limits and opaque page tokens (base64url of a small JSON cursor).

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest page any list returns.
pub const MAX_PAGE_SIZE: i32 = 100;

/// The page size to use: `default` for 0, INVALID_ARGUMENT outside 1..=100.
pub fn page_size(requested: i32, default: i32, field: &str) -> Result<i64, ApiError> {
    match requested {
        0 => Ok(i64::from(default)),
        1..=MAX_PAGE_SIZE => Ok(i64::from(requested)),
        _ => Err(ApiError::invalid_field(
            field,
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// Encodes a cursor as a page token.
pub fn encode_token<T: Serialize>(cursor: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

/// Decodes a page token; INVALID_ARGUMENT when it is not one of ours.
pub fn decode_token<T: DeserializeOwned>(token: &str, field: &str) -> Result<T, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::invalid_field(field, "is not a valid page token"))
}
