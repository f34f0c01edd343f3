//! `GET /openapi.json`: the hand-written OpenAPI 3.1 document of the REST front
//! (`gateway/openapi.json`). A test checks that it lists exactly the routes the router
//! serves.

use axum::response::{IntoResponse, Response};

/// The OpenAPI document, as served.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The handler.
pub async fn openapi() -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON,
    )
        .into_response()
}
