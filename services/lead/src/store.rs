//! All SQL of the lead service, portable across PostgreSQL and SQLite through sqlx `Any`
//! (see `lms_platform::db`). Where the backends differ for speed or locking (counters,
//! the one-statement submission, row locks, the sequencer's lock), the branch is here and
//! nowhere else. Leads are stored with their enums as proto numbers and their JSON parts
//! as text. New leads that arrive together are written together (group commit, see
//! `batch`), each still all or nothing.

mod batch;
mod events;
mod leads;
mod sql;
pub mod submit;

pub use events::{EventRow, NewEvent, SEQUENCE_BATCH, SEQUENCER_STATE};
pub use leads::{ListQuery, SortKey};
pub use submit::{Conflict, Counter, NewSubmission};

use crate::domain::lead::{priority_code, priority_from_code};
use crate::domain::{Channel, Lead, LeadStatus};
use crate::error::LeadError;
use lms_platform::db::{Backend, Db, from_micros, to_micros};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

/// The lead columns, in the order [`lead_from_row`] and [`LeadValues`] use.
pub(crate) const LEAD_COLS: &str = "id, lead_uid, product_code, status, priority, score, \
    assignee, form_data, config_hash, scoring_version, lead_channel, lead_comment, \
    document_metadata, score_breakdown, version, create_time, update_time";

/// The lead service's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// SQLite allows one writer at a time; writers of this process queue here (in
    /// order) instead of sleeping in SQLite's busy handler. `None` on PostgreSQL.
    gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Where new leads queue for group commit (see [`Store::with_write_batches`]).
    queue: Option<batch::Queue>,
}

/// A write transaction (holding the SQLite write gate while it lives).
pub struct WriteTx {
    /// The transaction.
    pub tx: Transaction<'static, Any>,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits.
    pub async fn commit(self) -> Result<(), LeadError> {
        Ok(self.tx.commit().await?)
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), LeadError> {
        Ok(self.tx.rollback().await?)
    }
}

impl Store {
    /// Wraps a connected, migrated database.
    pub fn new(db: Db) -> Self {
        let gate = (db.backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Self {
            db,
            gate,
            queue: None,
        }
    }

    /// This store, with new leads written in batches of at most `max` by `writers`
    /// concurrent writers (see the `batch` module); `max` 1 writes each on its own. The
    /// writers run on the current runtime until the returned store and all its clones
    /// are dropped (in the service: until its runtime ends, like the sequencer and the
    /// janitor). Only the submission path uses the queue.
    pub fn with_write_batches(self, max: usize, writers: usize) -> Self {
        if max <= 1 {
            return self;
        }
        // SQLite has one writer at a time (the gate): more writers would only queue there.
        let writers = if self.pg() { writers } else { 1 };
        let plain = self.unbatched();
        Self {
            queue: Some(batch::start(plain, max, writers)),
            ..self
        }
    }

    /// The same database without the batch queue: what the writers write through (a
    /// writer holding the queue would keep itself alive).
    fn unbatched(&self) -> Self {
        Self {
            queue: None,
            ..self.clone()
        }
    }

    /// Takes the SQLite write gate (nothing on PostgreSQL).
    async fn gate(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        }
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<WriteTx, LeadError> {
        let gate = self.gate().await;
        Ok(WriteTx {
            tx: self.db.begin_write().await?,
            _gate: gate,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Whether events get their positions after commit, from [`Store::sequence`]
    /// (PostgreSQL), rather than as they are written (SQLite).
    pub fn numbers_later(&self) -> bool {
        self.pg()
    }

    fn pg(&self) -> bool {
        self.db.backend == Backend::Postgres
    }
}

/// A lead's column values, serialized once.
pub(crate) struct LeadValues {
    pub id: String,
    pub lead_uid: String,
    pub product_code: String,
    pub status: i64,
    pub priority: i64,
    pub score: i64,
    pub assignee: String,
    pub form_data: String,
    pub config_hash: String,
    pub scoring_version: i64,
    pub lead_channel: i64,
    pub lead_comment: String,
    pub document_metadata: Option<String>,
    pub score_breakdown: String,
    pub version: i64,
    pub create_time: i64,
    pub update_time: i64,
}

impl LeadValues {
    pub(crate) fn of(l: &Lead) -> Result<Self, LeadError> {
        Ok(Self {
            id: l.id.clone(),
            lead_uid: l.lead_uid.clone(),
            product_code: l.product_code.clone(),
            status: l.status.code(),
            priority: priority_code(l.priority),
            score: i64::from(l.score),
            assignee: l.assignee.clone(),
            form_data: json(&l.form_data)?,
            config_hash: l.config_hash.clone(),
            scoring_version: i64::from(l.scoring_version),
            lead_channel: l.lead_channel.code(),
            lead_comment: l.lead_comment.clone(),
            document_metadata: l.document_metadata.as_ref().map(json).transpose()?,
            score_breakdown: json(&l.score_breakdown)?,
            version: l.version,
            create_time: to_micros(l.create_time),
            update_time: to_micros(l.update_time),
        })
    }

    /// Binds the values in [`LEAD_COLS`] order.
    pub(crate) fn bind<'q>(self, q: sql::AnyQuery<'q>) -> sql::AnyQuery<'q> {
        q.bind(self.id)
            .bind(self.lead_uid)
            .bind(self.product_code)
            .bind(self.status)
            .bind(self.priority)
            .bind(self.score)
            .bind(self.assignee)
            .bind(self.form_data)
            .bind(self.config_hash)
            .bind(self.scoring_version)
            .bind(self.lead_channel)
            .bind(self.lead_comment)
            .bind(self.document_metadata)
            .bind(self.score_breakdown)
            .bind(self.version)
            .bind(self.create_time)
            .bind(self.update_time)
    }
}

/// Serializes a value to JSON text.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String, LeadError> {
    serde_json::to_string(v).map_err(|e| LeadError::Corrupt(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, LeadError> {
    serde_json::from_str(s).map_err(|e| LeadError::Corrupt(format!("{what}: {e}")))
}

/// Reads a lead selected with [`LEAD_COLS`].
pub(crate) fn lead_from_row(row: &AnyRow) -> Result<Lead, LeadError> {
    let code = |c: &str| row.try_get::<i64, _>(c);
    let status = code("status")?;
    let priority = code("priority")?;
    let channel = code("lead_channel")?;
    let metadata: Option<String> = row.try_get("document_metadata")?;
    Ok(Lead {
        id: row.try_get("id")?,
        lead_uid: row.try_get("lead_uid")?,
        product_code: row.try_get("product_code")?,
        status: LeadStatus::from_code(status)
            .ok_or_else(|| LeadError::Corrupt(format!("status {status}")))?,
        priority: priority_from_code(priority)
            .ok_or_else(|| LeadError::Corrupt(format!("priority {priority}")))?,
        score: i32::try_from(code("score")?).unwrap_or_default(),
        assignee: row.try_get("assignee")?,
        form_data: parse(&row.try_get::<String, _>("form_data")?, "form_data")?,
        config_hash: row.try_get("config_hash")?,
        scoring_version: i32::try_from(code("scoring_version")?).unwrap_or_default(),
        lead_channel: Channel::from_code(channel)
            .ok_or_else(|| LeadError::Corrupt(format!("channel {channel}")))?,
        lead_comment: row.try_get("lead_comment")?,
        document_metadata: metadata
            .as_deref()
            .map(|m| parse(m, "document_metadata"))
            .transpose()?,
        score_breakdown: parse(
            &row.try_get::<String, _>("score_breakdown")?,
            "score_breakdown",
        )?,
        version: code("version")?,
        create_time: from_micros(code("create_time")?),
        update_time: from_micros(code("update_time")?),
    })
}
