//! What a service needs from its host process: clock, auth state, mesh key, channels to
//! its peers, data folder and server limits. The `lms` binary and the test kit build it.

use crate::auth::{AuthState, JwtVerifier, UamKeySource};
use crate::clock::SharedClock;
use crate::grpc_client::{MeshChannel, lazy_channel, mesh};
use crate::server::ServerLimits;
use secrecy::SecretString;
use std::path::PathBuf;
use std::sync::Arc;
use tonic::transport::Channel;

/// Lazily connected channels to every service of the mesh.
#[derive(Clone, Debug)]
pub struct Peers {
    /// uam.
    pub uam: Channel,
    /// config.
    pub config: Channel,
    /// lead.
    pub lead: Channel,
    /// notify.
    pub notify: Channel,
    /// report.
    pub report: Channel,
}

/// Base URLs of the peers, e.g. `http://127.0.0.1:50051`.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeerUrls {
    /// uam.
    pub uam: String,
    /// config.
    pub config: String,
    /// lead.
    pub lead: String,
    /// notify.
    pub notify: String,
    /// report.
    pub report: String,
}

impl Peers {
    /// Channels to these URLs (connected on first use).
    pub fn connect(urls: &PeerUrls) -> anyhow::Result<Self> {
        let ch = |name: &str, url: &str| {
            anyhow::ensure!(!url.is_empty(), "no address configured for peer {name}");
            lazy_channel(url)
        };
        Ok(Self {
            uam: ch("uam", &urls.uam)?,
            config: ch("config", &urls.config)?,
            lead: ch("lead", &urls.lead)?,
            notify: ch("notify", &urls.notify)?,
            report: ch("report", &urls.report)?,
        })
    }
}

/// The host's gifts to a service.
#[derive(Clone)]
pub struct Runtime {
    /// The clock.
    pub clock: SharedClock,
    /// Authentication state (verifier + mesh key) for the server's auth layer.
    pub auth: Arc<AuthState>,
    /// The mesh key, for calls to peers.
    pub mesh_key: SecretString,
    /// Channels to peers.
    pub peers: Peers,
    /// The data folder (dev keys, SQLite files, local object store).
    pub data_dir: PathBuf,
    /// True in the embedded all-in-one mode: dev keys may be generated.
    pub embedded: bool,
    /// Server limits.
    pub limits: ServerLimits,
    /// Turns true when the host begins to shut down (see [`Runtime::stopped`]).
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl Runtime {
    /// Builds a runtime whose token verifier fetches keys from the uam peer.
    pub fn new(
        clock: SharedClock,
        mesh_key: SecretString,
        peers: Peers,
        data_dir: PathBuf,
        embedded: bool,
        limits: ServerLimits,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let verifier = JwtVerifier::new(UamKeySource::new(peers.uam.clone()));
        verifier.watch_revocations(mesh(peers.uam.clone(), &mesh_key));
        Self {
            clock,
            auth: AuthState::new(verifier, mesh_key.clone()),
            mesh_key,
            peers,
            data_dir,
            embedded,
            limits,
            stopping,
        }
    }

    /// Resolves when the host begins to shut down; never, if the host dropped its sender
    /// without saying so. Streams that never end on their own (the revoked-session feed,
    /// a followed event stream) end on it, so the graceful drain need not wait them out.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stopping.clone();
        async move {
            loop {
                if *rx.borrow_and_update() {
                    return;
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// A channel to a peer that authenticates as a mesh service.
    pub fn mesh(&self, channel: &Channel) -> MeshChannel {
        mesh(channel.clone(), &self.mesh_key)
    }
}
