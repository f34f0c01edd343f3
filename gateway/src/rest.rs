//! The REST front: the seed API's paths and JSON shapes over the services' gRPC APIs.
//! One table ([`table`]) lists every route; the router is built from it and the OpenAPI
//! consistency test reads it, so the document and the router cannot drift apart.

mod config;
mod lead;
mod page;
mod uam;

use crate::Upstreams;
use crate::error::RestError;
use axum::Router;
use axum::routing::{MethodFilter, MethodRouter, on};
use http::Method;
use std::sync::Arc;

/// What REST handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Channels to the services (shared: axum clones the state for every request).
    pub up: Arc<Upstreams>,
    /// Largest JSON body, in bytes.
    pub max_body_bytes: usize,
}

/// One route: method, path (axum/OpenAPI `{param}` syntax) and its handler.
type Route = (
    Method,
    &'static str,
    fn(MethodFilter) -> MethodRouter<AppState>,
);

/// Every REST route the gateway serves.
fn table() -> Vec<Route> {
    vec![
        // uam
        (Method::POST, "/uam/api/auth/register", |m| {
            on(m, uam::register)
        }),
        (Method::POST, "/uam/api/auth/login", |m| on(m, uam::login)),
        (Method::POST, "/uam/api/auth/totp-login", |m| {
            on(m, uam::totp_login)
        }),
        (Method::POST, "/uam/api/auth/refresh", |m| {
            on(m, uam::refresh)
        }),
        (Method::POST, "/uam/api/auth/change-password", |m| {
            on(m, uam::change_password)
        }),
        (Method::POST, "/uam/api/auth/logout", |m| on(m, uam::logout)),
        (Method::POST, "/uam/api/auth/totp/setup", |m| {
            on(m, uam::totp_setup)
        }),
        (Method::POST, "/uam/api/auth/totp/enable", |m| {
            on(m, uam::totp_enable)
        }),
        (Method::POST, "/uam/api/auth/totp/disable", |m| {
            on(m, uam::totp_disable)
        }),
        (Method::GET, "/uam/api/users/me", |m| on(m, uam::me)),
        (Method::GET, "/uam/api/users", |m| on(m, uam::list_users)),
        (Method::PUT, "/uam/api/users/{id}", |m| {
            on(m, uam::update_user)
        }),
        // config
        (Method::POST, "/config/api/products", |m| {
            on(m, config::create)
        }),
        (Method::GET, "/config/api/products", |m| on(m, config::list)),
        (
            Method::GET,
            "/config/api/products/{productCode}/config",
            |m| on(m, config::get),
        ),
        (Method::PUT, "/config/api/products/{productCode}", |m| {
            on(m, config::update)
        }),
        (
            Method::GET,
            "/config/api/products/{productCode}/lead-form/render-package",
            |m| on(m, config::render_package),
        ),
        // lead
        (Method::POST, "/lead/api/leads", |m| on(m, lead::submit)),
        (Method::GET, "/lead/api/leads", |m| on(m, lead::list)),
        (Method::GET, "/lead/api/leads/{id}", |m| on(m, lead::get)),
        (Method::PUT, "/lead/api/leads/{id}", |m| on(m, lead::update)),
        (Method::POST, "/lead/api/leads/bulk-update", |m| {
            on(m, lead::bulk_update)
        }),
        (Method::GET, "/lead/api/leads/{id}/history", |m| {
            on(m, lead::history)
        }),
        // the gateway itself
        (Method::GET, "/healthz", |m| on(m, crate::health::healthz)),
        (Method::GET, "/openapi.json", |m| {
            on(m, crate::openapi::openapi)
        }),
    ]
}

/// Every REST route as `(method, path)`, e.g. `(GET, "/lead/api/leads/{id}")`.
pub fn routes() -> Vec<(Method, &'static str)> {
    table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The REST router: the table's routes, JSON 404 for unknown paths and JSON 405 for known
/// paths with another method.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for (method, path, handler) in table() {
        match MethodFilter::try_from(method) {
            Ok(filter) => r = r.route(path, handler(filter)),
            Err(e) => tracing::error!(path, error = %e, "route with an unroutable method"),
        }
    }
    r.fallback(|| async { RestError::no_route() })
        .method_not_allowed_fallback(|| async { RestError::method_not_allowed() })
        .with_state(state)
}
