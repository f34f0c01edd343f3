//! gRPC server bootstrap shared by every service: health (`grpc.health.v1`), reflection
//! (v1 and v1alpha, so every grpcurl works), grpc-web, request context (request id,
//! trace context), authentication, per-request deadline, concurrency limit with load
//! shedding, and graceful shutdown that flips health to NOT_SERVING first.

use crate::auth::{AuthLayer, AuthState};
use crate::telemetry::RequestContextLayer;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::ServingStatus;

/// Server limits.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerLimits {
    /// Deadline of a request without its own `grpc-timeout`, in milliseconds.
    pub request_timeout_ms: u64,
    /// Concurrent requests per connection; excess is shed with RESOURCE_EXHAUSTED.
    pub concurrency_per_connection: usize,
    /// On shutdown, how long open requests may finish, in milliseconds; connections still
    /// open then (say, a client following `StreamEvents`) are cut. The revoked-session
    /// feeds between services end as shutdown begins.
    pub shutdown_grace_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            concurrency_per_connection: 512,
            shutdown_grace_ms: 10_000,
        }
    }
}

/// Adds the health and reflection services to a service's routes; returns the routes and
/// the health reporter.
pub async fn with_standard_services(
    routes: Routes,
    service_names: &[&str],
) -> anyhow::Result<(Routes, tonic_health::server::HealthReporter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in service_names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(lms_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(lms_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    Ok((
        routes
            .add_service(health)
            .add_service(v1)
            .add_service(v1alpha),
        reporter,
    ))
}

/// Serves `routes` (plus health and reflection) on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    auth: Arc<AuthState>,
    limits: &ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (routes, reporter) = with_standard_services(routes, service_names).await?;
    let names: Vec<String> = service_names.iter().map(|s| (*s).to_string()).collect();
    let shutdown = async move {
        shutdown.await;
        for n in &names {
            reporter
                .set_service_status(n, ServingStatus::NotServing)
                .await;
        }
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };
    let layers = tower::ServiceBuilder::new()
        .layer(RequestContextLayer)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(AuthLayer::new(auth))
        .into_inner();
    let addr = listener.local_addr()?;
    tracing::info!(%addr, services = ?service_names, "grpc server listening");
    tonic::transport::Server::builder()
        .accept_http1(true)
        .timeout(Duration::from_millis(limits.request_timeout_ms))
        .concurrency_limit_per_connection(limits.concurrency_per_connection)
        .load_shed(true)
        .tcp_nodelay(true)
        .layer(layers)
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            // `Server::tcp_nodelay` only applies to listeners tonic binds itself; accepted
            // sockets of our own listener need it here, or every response waits out the
            // peer's delayed ACK (~40 ms).
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    Ok(())
}
