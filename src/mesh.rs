//! Starts services: every one plus the gateway in one process (embedded), or one of
//! them (distributed). Each service gets its own database (SQLite file or PostgreSQL
//! schema), its own listener, and real tonic channels to its peers.

use crate::settings::LmsConfig;
use lms_platform::clock::SharedClock;
use lms_platform::db::Db;
use lms_platform::runtime::{PeerUrls, Peers, Runtime};
use rand::RngCore;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A part of the system that `--only` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// User and access management.
    Uam,
    /// Product configuration.
    Config,
    /// Leads.
    Lead,
    /// Notifications.
    Notify,
    /// Analytics and reports.
    Report,
    /// The gateway.
    Gateway,
}

/// The services that own a database, with their schema names.
pub const SERVICES: [Part; 5] = [
    Part::Uam,
    Part::Config,
    Part::Lead,
    Part::Notify,
    Part::Report,
];

impl Part {
    /// The service's name (also its PostgreSQL schema and SQLite file name).
    pub fn name(self) -> &'static str {
        match self {
            Self::Uam => "uam",
            Self::Config => "config",
            Self::Lead => "lead",
            Self::Notify => "notify",
            Self::Report => "report",
            Self::Gateway => "gateway",
        }
    }
}

/// Addresses a running system listens on.
#[derive(Debug, Clone, Default)]
pub struct Bound {
    /// Service name -> gRPC address.
    pub services: Vec<(&'static str, SocketAddr)>,
    /// The gateway's address, when it runs.
    pub gateway: Option<SocketAddr>,
}

/// A running system: its addresses and a handle to stop it.
pub struct Running {
    /// Where it listens.
    pub bound: Bound,
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Running {
    /// Waits until a server fails (an error) or all stop after [`Running::shutdown`].
    pub async fn wait(mut self) -> anyhow::Result<()> {
        while let Some(res) = self.tasks.join_next().await {
            res??;
        }
        Ok(())
    }

    /// Waits for the next server task to end, with its result.
    pub async fn join_next(&mut self) -> Option<anyhow::Result<()>> {
        self.tasks
            .join_next()
            .await
            .map(|r| r.map_err(anyhow::Error::from).and_then(|r| r))
    }

    /// Asks every server to drain and stop.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

fn own_db_url(cfg: &LmsConfig, part: Part) -> Option<&String> {
    match part {
        Part::Uam => cfg.uam.database.url.as_ref(),
        Part::Config => cfg.config.database.url.as_ref(),
        Part::Lead => cfg.lead.database.url.as_ref(),
        Part::Notify => cfg.notify.database.url.as_ref(),
        Part::Report => cfg.report.database.url.as_ref(),
        Part::Gateway => None,
    }
}

fn pool_cfg(cfg: &LmsConfig, part: Part) -> lms_platform::db::PoolConfig {
    match part {
        Part::Uam => cfg.uam.database.pool.clone(),
        Part::Config => cfg.config.database.pool.clone(),
        Part::Lead => cfg.lead.database.pool.clone(),
        Part::Notify => cfg.notify.database.pool.clone(),
        Part::Report => cfg.report.database.pool.clone(),
        Part::Gateway => Default::default(),
    }
}

fn addr_of(cfg: &LmsConfig, part: Part) -> &str {
    match part {
        Part::Uam => &cfg.uam.addr,
        Part::Config => &cfg.config.addr,
        Part::Lead => &cfg.lead.addr,
        Part::Notify => &cfg.notify.addr,
        Part::Report => &cfg.report.addr,
        Part::Gateway => &cfg.gateway.addr,
    }
}

/// Connects a service's database and runs its migrations.
pub async fn open_db(cfg: &LmsConfig, part: Part) -> anyhow::Result<Db> {
    let db = connect_db(cfg, part).await?;
    match part {
        Part::Uam => lms_uam::migrate(&db).await,
        Part::Config => lms_config::migrate(&db).await,
        Part::Lead => lms_lead::migrate(&db).await,
        Part::Notify => lms_notify::migrate(&db).await,
        Part::Report => lms_report::migrate(&db).await,
        Part::Gateway => Ok(()),
    }
    .map_err(|e| anyhow::anyhow!("{} migrations: {e:#}", part.name()))?;
    Ok(db)
}

/// Connects to a part's database as [`open_db`] does, without running its migrations
/// (for reads once the services have started and migrated it).
pub async fn connect_db(cfg: &LmsConfig, part: Part) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    let url = cfg.database_url(part.name(), own_db_url(cfg, part));
    Db::connect(&url, part.name(), &pool_cfg(cfg, part))
        .await
        .map_err(|e| anyhow::anyhow!("{} database: {e:#}", part.name()))
}

/// Runs every service's migrations.
pub async fn migrate_all(cfg: &LmsConfig) -> anyhow::Result<()> {
    for part in SERVICES {
        open_db(cfg, part).await?;
        tracing::info!(service = part.name(), "migrated");
    }
    Ok(())
}

/// The mesh key: configured, read from its file, or (embedded only) generated in the
/// data folder on first start.
pub fn mesh_key(cfg: &LmsConfig, embedded: bool) -> anyhow::Result<SecretString> {
    if let Some(k) = &cfg.mesh.key {
        return Ok(k.clone());
    }
    if let Some(path) = &cfg.mesh.key_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("mesh.key_file {}: {e}", path.display()))?;
        return Ok(SecretString::from(text.trim().to_string()));
    }
    anyhow::ensure!(
        embedded,
        "no mesh key: set LMS_MESH__KEY or LMS_MESH__KEY_FILE (dev keys are generated only by the embedded `lms serve`)"
    );
    let path = cfg.data_dir.join("keys").join("mesh.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(SecretString::from(text.trim().to_string()));
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = hex_encode(&bytes);
    write_secret(&path, &key)?;
    tracing::info!(path = %path.display(), "generated a dev mesh key");
    Ok(SecretString::from(key))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

/// Starts `parts` (all of them in the embedded mode) and returns once every listener is
/// bound and every server task is running.
pub async fn start(
    cfg: LmsConfig,
    parts: &[Part],
    embedded: bool,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    let key = mesh_key(&cfg, embedded)?;
    // Bind first, so peers can be given the real addresses (port 0 allowed).
    let mut listeners = Vec::new();
    for part in parts {
        let addr = addr_of(&cfg, *part);
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("{} cannot listen on {addr}: {e}", part.name()))?;
        listeners.push((*part, l));
    }
    let url_of = |part: Part, configured: &str| -> anyhow::Result<String> {
        if let Some((_, l)) = listeners.iter().find(|(p, _)| *p == part) {
            return Ok(format!("http://{}", l.local_addr()?));
        }
        if !configured.is_empty() {
            return Ok(configured.to_string());
        }
        Ok(format!("http://{}", addr_of(&cfg, part)))
    };
    let urls = PeerUrls {
        uam: url_of(Part::Uam, &cfg.mesh.peers.uam)?,
        config: url_of(Part::Config, &cfg.mesh.peers.config)?,
        lead: url_of(Part::Lead, &cfg.mesh.peers.lead)?,
        notify: url_of(Part::Notify, &cfg.mesh.peers.notify)?,
        report: url_of(Part::Report, &cfg.mesh.peers.report)?,
    };
    let peers = Peers::connect(&urls)?;
    let (stop, stop_rx) = watch::channel(false);
    let rt = Runtime::new(
        clock,
        key,
        peers.clone(),
        cfg.data_dir.clone(),
        embedded,
        cfg.server.clone(),
        stop_rx.clone(),
    );
    let mut tasks = JoinSet::new();
    let mut bound = Bound::default();
    for (part, listener) in listeners {
        let addr = listener.local_addr()?;
        let shutdown = wait_for(stop_rx.clone());
        if part == Part::Gateway {
            bound.gateway = Some(addr);
            let up = lms_gateway::Upstreams {
                uam: peers.uam.clone(),
                config: peers.config.clone(),
                lead: peers.lead.clone(),
                notify: peers.notify.clone(),
                report: peers.report.clone(),
            };
            let gcfg = cfg.gateway.clone();
            tasks.spawn(async move { lms_gateway::serve(&gcfg, up, listener, shutdown).await });
            continue;
        }
        bound.services.push((part.name(), addr));
        let db = open_db(&cfg, part).await?;
        let (routes, names) = match part {
            Part::Uam => (
                lms_uam::build(&cfg.uam, db, &rt).await?,
                lms_uam::SERVICE_NAMES,
            ),
            Part::Config => (
                lms_config::build(&cfg.config, db, &rt).await?,
                lms_config::SERVICE_NAMES,
            ),
            Part::Lead => (
                lms_lead::build(&cfg.lead, db, &rt).await?,
                lms_lead::SERVICE_NAMES,
            ),
            Part::Notify => (
                lms_notify::build(&cfg.notify, db, &rt).await?,
                lms_notify::SERVICE_NAMES,
            ),
            Part::Report => (
                lms_report::build(&cfg.report, db, &rt).await?,
                lms_report::SERVICE_NAMES,
            ),
            Part::Gateway => unreachable_gateway()?,
        };
        let auth = rt.auth.clone();
        let limits = cfg.server.clone();
        tasks.spawn(async move {
            lms_platform::server::serve(listener, routes, names, auth, &limits, shutdown).await
        });
    }
    Ok(Running { bound, stop, tasks })
}

fn unreachable_gateway() -> anyhow::Result<(tonic::service::Routes, &'static [&'static str])> {
    anyhow::bail!("the gateway has no gRPC routes of its own")
}

async fn wait_for(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The system clock.
pub fn system_clock() -> SharedClock {
    Arc::new(lms_platform::SystemClock)
}
