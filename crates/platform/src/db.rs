//! Database connection for both backends through sqlx's `Any` driver: PostgreSQL (one
//! schema per service, set as the connection's `search_path`) and SQLite (one file per
//! service, WAL). Each service keeps its SQL in its own `store` module and runs the
//! migrations of its backend from `migrations/<svc>/{postgres,sqlite}`.
//!
//! Portable SQL rules the stores follow: `$1` placeholders (both backends accept them),
//! `BIGINT` instants in microseconds since the epoch, `TEXT` for ids and JSON,
//! `BIGINT` 0/1 for flags, `ON CONFLICT` and `RETURNING` (SQLite >= 3.35).

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// A pooled PostgreSQL connection idle at least this long is pinged before use.
const RECHECK_IDLE: Duration = Duration::from_secs(1);

/// Which database a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// Tells the backend of a database URL.
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            anyhow::bail!("unsupported database URL scheme (use postgres:// or sqlite:)")
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a free connection, in milliseconds.
    pub acquire_timeout_ms: u64,
    /// PostgreSQL `statement_timeout`, in milliseconds.
    pub statement_timeout_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout_ms: 2_000,
            statement_timeout_ms: 10_000,
        }
    }
}

/// A service's database: the pool and its backend.
#[derive(Debug, Clone)]
pub struct Db {
    /// The pool.
    pub pool: AnyPool,
    /// Its backend.
    pub backend: Backend,
}

impl Db {
    /// Connects to `url`; on PostgreSQL the service's `schema` is created if missing and
    /// becomes every connection's `search_path`.
    pub async fn connect(url: &str, schema: &str, cfg: &PoolConfig) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        anyhow::ensure!(
            schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "schema name must be lower-case letters"
        );
        let opts = AnyConnectOptions::from_str(url)?;
        let pool_opts = AnyPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
            // sqlx pings every connection it hands out by default: a round trip per
            // query (on SQLite a hand-off to the connection's thread). Like HikariCP, only
            // a connection that sat idle may have been dropped by the server or a proxy,
            // so only those are checked; SQLite connections cannot go stale at all.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for >= RECHECK_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            });
        let pool = match backend {
            Backend::Postgres => {
                let boot = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts.clone())
                    .await?;
                // Concurrent first starts may race on CREATE SCHEMA; the loser's error is
                // harmless once the schema exists.
                if let Err(e) = boot
                    .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                    .await
                {
                    tracing::debug!(error = %e, "create schema raced");
                }
                boot.close().await;
                let init = format!(
                    "SET search_path TO {schema}; SET statement_timeout = {}; \
                     SET lock_timeout = 5000; SET idle_in_transaction_session_timeout = 30000",
                    cfg.statement_timeout_ms
                );
                pool_opts
                    .after_connect(move |conn, _| {
                        let init = init.clone();
                        Box::pin(async move {
                            conn.execute(init.as_str()).await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?
            }
            Backend::Sqlite => {
                pool_opts
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?
            }
        };
        Ok(Self { pool, backend })
    }

    /// Runs the migrator of this backend.
    pub async fn migrate(&self, postgres: &Migrator, sqlite: &Migrator) -> anyhow::Result<()> {
        match self.backend {
            Backend::Postgres => postgres.run(&self.pool).await?,
            Backend::Sqlite => sqlite.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue on `busy_timeout` instead of failing
    /// with SQLITE_BUSY when a reader upgrades.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Postgres => self.pool.begin().await,
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
        }
    }

    /// True when the error is a unique-constraint violation on either backend.
    pub fn is_unique_violation(err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::Database(db) => {
                matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
            }
            _ => false,
        }
    }
}

/// The SQLite URL of a service's file in a data folder (created when missing).
pub fn sqlite_url(data_dir: &std::path::Path, service: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{service}.db")).display()
    )
}

/// Microseconds since the epoch, the stored form of instants.
pub fn to_micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant of a stored microsecond count.
pub fn from_micros(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}
