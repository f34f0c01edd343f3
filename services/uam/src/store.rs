//! All SQL of uam, portable across PostgreSQL and SQLite through sqlx `Any` (`$n`
//! placeholders, BIGINT microsecond instants, BIGINT 0/1 flags, TEXT ids).
//! Read-modify-write of an account's counters happens in one write transaction that
//! first locks the row ([`Store::lock_user`]: `FOR UPDATE` on PostgreSQL; SQLite's
//! `BEGIN IMMEDIATE` already serializes writers). No business rules live here.

mod sessions;
mod users;

pub use sessions::{RefreshLookup, SessionRow};
pub use users::{ListFilter, UserRecord};

use lms_platform::db::{Backend, Db};
use sqlx::{Any, AnyConnection, Transaction};

/// The uam store over one database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Wraps a database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.db.begin_write().await
    }

    /// A pooled connection for reads.
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, sqlx::Error> {
        self.db.pool.acquire().await
    }

    /// `FOR UPDATE` on PostgreSQL, nothing on SQLite.
    fn for_update(&self) -> &'static str {
        match self.db.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }
}

/// Shorthand for a connection inside a transaction.
pub type Conn = AnyConnection;
