//! `lms-gateway`: the one public port of LMS. It serves three things, chosen per request:
//! the seed REST API (JSON, camelCase, seed paths and shapes), native gRPC for every
//! service (a transparent, streaming proxy by package prefix, plus the gateway's own
//! `grpc.health.v1` and reflection v1/v1alpha over every LMS proto) and grpc-web for
//! browsers (translated by tonic-web, then proxied like native gRPC), with CORS limited to
//! configured origins. It is stateless and owns no data: every REST call becomes one or
//! more gRPC calls to uam, config or lead carrying the caller's `authorization`, the
//! request id and the W3C trace context. It must not make decisions that belong to a
//! service (authorization, validation of meaning): it converts shapes and names fields.
//! It never logs bodies, query strings or tokens.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod body;
mod client_ip;
mod config;
mod convert;
mod cors;
mod dispatch;
mod error;
mod grpc;
mod health;
mod openapi;
mod query;
mod rest;
mod upstream;

pub use config::Config;
pub use openapi::OPENAPI_JSON;
pub use rest::routes as rest_routes;

use std::future::Future;
use std::net::SocketAddr;
use tonic::transport::Channel;

/// Channels to the services behind the gateway (plain channels: calls carry the caller's
/// own credentials, never the mesh key).
#[derive(Clone, Debug)]
pub struct Upstreams {
    /// uam (`lms.uam.v1.*`).
    pub uam: Channel,
    /// config (`lms.config.v1.*`).
    pub config: Channel,
    /// lead (`lms.lead.v1.*`).
    pub lead: Channel,
    /// notify (`lms.notify.v1.*`).
    pub notify: Channel,
    /// report (`lms.report.v1.*`).
    pub report: Channel,
}

/// Builds the gateway: REST, native gRPC and grpc-web behind the request-context (request
/// id, trace context) and CORS layers. Invalid `trusted_proxies` or CORS entries are logged
/// and ignored here; [`serve`] refuses them.
pub fn router(cfg: &Config, up: Upstreams) -> axum::Router {
    dispatch::router(cfg, up)
}

/// Serves the gateway on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    cfg: &Config,
    up: Upstreams,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    cfg.validate()?;
    let (app, health) = dispatch::build(cfg, up);
    let shutdown = async move {
        shutdown.await;
        if let Some(h) = health {
            h.set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
        }
    };
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "gateway listening");
    // Nagle's algorithm would hold small responses for a delayed ACK (~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}
