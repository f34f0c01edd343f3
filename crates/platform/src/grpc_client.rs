//! Channels to other services of the mesh. Every outgoing call carries the mesh key, the
//! caller's request id and the W3C trace context of the current span.

use crate::auth::SERVICE_KEY_HEADER;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Connects lazily to `url` (e.g. `http://127.0.0.1:50051`).
pub fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    let ep = Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(ep.connect_lazy())
}

/// Adds the mesh key, request id and trace context to outgoing calls.
#[derive(Clone)]
pub struct MeshInterceptor {
    key: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl MeshInterceptor {
    /// Creates an interceptor that authenticates as a mesh service.
    pub fn service(key: &SecretString) -> Self {
        Self {
            key: MetadataValue::try_from(key.expose_secret()).ok(),
        }
    }

    /// Creates an interceptor that only propagates request id and trace context (the
    /// caller adds the user's own `authorization`).
    pub fn passthrough() -> Self {
        Self { key: None }
    }
}

impl tonic::service::Interceptor for MeshInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(k) = &self.key {
            req.metadata_mut().insert(SERVICE_KEY_HEADER, k.clone());
        }
        crate::telemetry::inject_context(req.metadata_mut());
        Ok(req)
    }
}

/// A channel with the mesh interceptor.
pub type MeshChannel = InterceptedService<Channel, MeshInterceptor>;

/// Wraps a channel so calls authenticate as a mesh service.
pub fn mesh(channel: Channel, key: &SecretString) -> MeshChannel {
    InterceptedService::new(channel, MeshInterceptor::service(key))
}
