//! `lms-testkit`: what integration tests need to boot the real thing. Fresh databases on
//! both backends ([`TestDb`]: a temporary SQLite file, or a new PostgreSQL database on
//! the server at `LMS_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`),
//! servers on `127.0.0.1:0`, and a [`Runtime`] wired to them. No mocks: tests speak real
//! gRPC to real servers.

pub mod product_json;

use lms_platform::Runtime;
use lms_platform::clock::SharedClock;
use lms_platform::db::{Db, PoolConfig};
use lms_platform::runtime::{PeerUrls, Peers};
use lms_platform::server::ServerLimits;
use secrecy::SecretString;
use sqlx::{ConnectOptions, Connection, Executor};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The mesh key every test runtime uses.
pub const TEST_MESH_KEY: &str = "test-mesh-key-0123456789abcdef0123456789abcdef";

/// A database backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

/// Both backends (every store path is tested against both). `LMS_TEST_BACKENDS=sqlite`
/// or `=postgres` narrows it for a quick local run.
pub fn backends() -> Vec<Backend> {
    match std::env::var("LMS_TEST_BACKENDS").as_deref() {
        Ok("sqlite") => vec![Backend::Sqlite],
        Ok("postgres") => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    }
}

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("LMS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh, empty database; removed when dropped.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Its backend.
    pub backend: Backend,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// Creates a fresh database on `backend`.
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Ok(Self {
                    url,
                    backend,
                    dir: Some(dir),
                    pg_name: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("lms_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::postgres::PgConnectOptions::from_str(&admin)?
                    .connect()
                    .await?;
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await?;
                conn.close().await?;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Ok(Self {
                    url: format!("{base}/{name}"),
                    backend,
                    dir: None,
                    pg_name: Some(name),
                })
            }
        }
    }

    /// Connects with `schema` (PostgreSQL) and default pool settings.
    pub async fn connect(&self, schema: &str) -> anyhow::Result<Db> {
        Db::connect(&self.url, schema, &PoolConfig::default()).await
    }

    /// A temporary folder that lives as long as this database (SQLite only) or a new one.
    pub fn dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().to_path_buf())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = postgres_admin_url();
            // Dropping needs async I/O; do it on a throwaway runtime in its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        let Ok(opts) = sqlx::postgres::PgConnectOptions::from_str(&admin) else {
                            return;
                        };
                        if let Ok(mut c) = opts.connect().await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = c.execute(sql.as_str()).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Binds a listener on `127.0.0.1:0`.
pub async fn listener() -> anyhow::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

/// Serves `routes` on `listener` in the background with the runtime's auth and limits.
pub fn serve(
    listener: TcpListener,
    routes: tonic::service::Routes,
    names: &'static [&'static str],
    rt: &Runtime,
) {
    let auth = rt.auth.clone();
    let limits = rt.limits.clone();
    tokio::spawn(async move {
        if let Err(e) = lms_platform::server::serve(
            listener,
            routes,
            names,
            auth,
            &limits,
            std::future::pending(),
        )
        .await
        {
            eprintln!("test server failed: {e:#}");
        }
    });
}

/// A runtime whose peers are the given URLs (missing ones point at a closed port).
pub fn runtime(urls: PeerUrls, clock: SharedClock, data_dir: PathBuf) -> anyhow::Result<Runtime> {
    let fill = |s: String| {
        if s.is_empty() {
            "http://127.0.0.1:9".to_string()
        } else {
            s
        }
    };
    let urls = PeerUrls {
        uam: fill(urls.uam),
        config: fill(urls.config),
        lead: fill(urls.lead),
        notify: fill(urls.notify),
        report: fill(urls.report),
    };
    Ok(Runtime::new(
        clock,
        SecretString::from(TEST_MESH_KEY),
        Peers::connect(&urls)?,
        data_dir,
        true,
        ServerLimits::default(),
        // Test servers stop by being dropped: the sender goes at once, which means
        // "never stopping".
        tokio::sync::watch::channel(false).1,
    ))
}

/// The system clock, shared.
pub fn system_clock() -> SharedClock {
    Arc::new(lms_platform::SystemClock)
}

/// `http://addr`.
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
