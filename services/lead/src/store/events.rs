//! The lead event log (transactional outbox). Writers insert events with `position`
//! NULL inside their own transaction; [`Store::sequence`] later gives committed rows
//! their positions from a counter, in id order, under a lock that only one sequencer at
//! a time holds (`pg_try_advisory_xact_lock` on PostgreSQL; SQLite serializes writers).
//! Because only committed rows are visible to it and its positions commit atomically, a
//! consumer reading `position > cursor` never skips a row, even one whose transaction
//! committed after a later one.

use super::sql::{AnyQuery, Arg, Sql};
use super::{Store, json, parse};
use crate::domain::{EventType, FieldChange, Lead};
use crate::error::LeadError;
use chrono::{DateTime, Utc};
use lms_platform::db::{from_micros, to_micros};
use sqlx::{Any, Row, Transaction};

/// Columns written by an insert, in [`NewEvent::bind`] order.
pub(crate) const EVENT_COLS: &str =
    "event_id, lead_id, event_type, payload, changes, actor, lead_version, created_at";

/// The advisory-lock key of the sequencer ("lead seq").
const SEQUENCER_LOCK: i64 = 0x6c65_6164_5f73_6571;

/// Most events one sequencer pass numbers.
const SEQUENCE_BATCH: i64 = 1_000;

/// An event to insert.
#[derive(Debug, Clone)]
pub struct NewEvent {
    event_id: String,
    lead_id: String,
    event_type: &'static str,
    payload: String,
    changes: String,
    actor: String,
    lead_version: i64,
    created_at: i64,
}

impl NewEvent {
    /// The event `ty` of `lead` (after the change) with its field changes.
    pub fn of(
        lead: &Lead,
        ty: EventType,
        changes: &[FieldChange],
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Self, LeadError> {
        Ok(Self {
            event_id: uuid::Uuid::now_v7().to_string(),
            lead_id: lead.id.clone(),
            event_type: ty.as_str(),
            payload: json(lead)?,
            changes: json(&changes)?,
            actor: actor.to_string(),
            lead_version: lead.version,
            created_at: to_micros(at),
        })
    }

    /// Binds the values in [`EVENT_COLS`] order.
    pub(crate) fn bind<'q>(self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        q.bind(self.event_id)
            .bind(self.lead_id)
            .bind(self.event_type)
            .bind(self.payload)
            .bind(self.changes)
            .bind(self.actor)
            .bind(self.lead_version)
            .bind(self.created_at)
    }

    fn args(self) -> [Arg; 8] {
        [
            Arg::S(self.event_id),
            Arg::S(self.lead_id),
            Arg::S(self.event_type.to_string()),
            Arg::S(self.payload),
            Arg::S(self.changes),
            Arg::S(self.actor),
            Arg::I(self.lead_version),
            Arg::I(self.created_at),
        ]
    }
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Insert order (history paging).
    pub id: i64,
    /// Position, once sequenced.
    pub position: Option<i64>,
    /// Event id.
    pub event_id: String,
    /// Lead id.
    pub lead_id: String,
    /// Type name.
    pub event_type: String,
    /// The lead after the change.
    pub lead: Option<Lead>,
    /// Field changes.
    pub changes: Vec<FieldChange>,
    /// Actor.
    pub actor: String,
    /// Lead version after the change.
    pub lead_version: i64,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn event_from_row(row: &sqlx::any::AnyRow, with_lead: bool) -> Result<EventRow, LeadError> {
    let lead = if with_lead {
        Some(parse(
            &row.try_get::<String, _>("payload")?,
            "event payload",
        )?)
    } else {
        None
    };
    Ok(EventRow {
        id: row.try_get("id")?,
        position: row.try_get("position")?,
        event_id: row.try_get("event_id")?,
        lead_id: row.try_get("lead_id")?,
        event_type: row.try_get("event_type")?,
        lead,
        changes: parse(&row.try_get::<String, _>("changes")?, "event changes")?,
        actor: row.try_get("actor")?,
        lead_version: row.try_get("lead_version")?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

/// Inserts events (position NULL) in the caller's transaction, in order.
pub(crate) async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    events: Vec<NewEvent>,
) -> Result<(), sqlx::Error> {
    let mut it = events.into_iter().peekable();
    while it.peek().is_some() {
        let mut sql = Sql::new(format!("INSERT INTO lead_events ({EVENT_COLS}) VALUES "));
        let mut rows = Vec::new();
        for e in it.by_ref().take(200) {
            rows.push(sql.list(e.args()));
        }
        sql.push(&rows.join(", "));
        sql.query().execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Inserts events in `tx` (position NULL until sequenced after commit).
    pub async fn insert_events_in(
        &self,
        tx: &mut super::WriteTx,
        events: Vec<NewEvent>,
    ) -> Result<(), LeadError> {
        Ok(insert_events(&mut tx.tx, events).await?)
    }

    /// Gives committed, unsequenced events their positions, in id order. Returns how many
    /// it numbered (0 when another replica holds the sequencer lock).
    pub async fn sequence(&self) -> Result<u64, LeadError> {
        let pending: Option<i64> =
            sqlx::query_scalar("SELECT id FROM lead_events WHERE position IS NULL LIMIT 1")
                .fetch_optional(&self.db().pool)
                .await?;
        if pending.is_none() {
            return Ok(0);
        }
        let mut w = self.begin().await?;
        let tx = &mut w.tx;
        let last: i64 = if self.pg() {
            let locked: i64 = sqlx::query_scalar(
                "SELECT CAST(CASE WHEN pg_try_advisory_xact_lock($1) THEN 1 ELSE 0 END AS BIGINT)",
            )
            .bind(SEQUENCER_LOCK)
            .fetch_one(&mut **tx)
            .await?;
            if locked == 0 {
                w.rollback().await?;
                return Ok(0);
            }
            sqlx::query_scalar("SELECT last_position FROM event_sequencer WHERE id = 1")
                .fetch_one(&mut **tx)
                .await?
        } else {
            sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event_position'")
                .fetch_one(&mut **tx)
                .await?
        };
        let numbered = sqlx::query(
            "UPDATE lead_events SET position = $1 + p.rn \
             FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn FROM lead_events \
                   WHERE position IS NULL ORDER BY id LIMIT $2) AS p \
             WHERE lead_events.id = p.id",
        )
        .bind(last)
        .bind(SEQUENCE_BATCH)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let advance = if self.pg() {
            "UPDATE event_sequencer SET last_position = last_position + $1 WHERE id = 1"
        } else {
            "UPDATE counters SET value = value + $1 WHERE name = 'event_position'"
        };
        sqlx::query(advance)
            .bind(i64::try_from(numbered).unwrap_or(i64::MAX))
            .execute(&mut **tx)
            .await?;
        w.commit().await?;
        Ok(numbered)
    }

    /// Up to `limit` sequenced events after `position`, in position order, optionally
    /// only of some types.
    pub async fn events_after(
        &self,
        position: i64,
        types: &[String],
        limit: i64,
    ) -> Result<Vec<EventRow>, LeadError> {
        let mut sql = Sql::new(
            "SELECT id, position, event_id, lead_id, event_type, payload, changes, actor, \
             lead_version, created_at FROM lead_events WHERE position > ",
        );
        let p = sql.arg(Arg::I(position));
        sql.push(&p);
        if !types.is_empty() {
            let list = sql.list(types.iter().map(|t| Arg::S(t.clone())));
            sql.push(" AND event_type IN ").push(&list);
        }
        let l = sql.arg(Arg::I(limit));
        sql.push(" ORDER BY position LIMIT ").push(&l);
        let rows = sql.query().fetch_all(&self.db().pool).await?;
        rows.iter().map(|r| event_from_row(r, true)).collect()
    }

    /// A lead's events in insert order, after event row `after_id`, at most `limit`.
    pub async fn history(
        &self,
        lead_id: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, LeadError> {
        let rows = sqlx::query(
            "SELECT id, position, event_id, lead_id, event_type, changes, actor, \
             lead_version, created_at FROM lead_events \
             WHERE lead_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(lead_id.to_string())
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.db().pool)
        .await?;
        rows.iter().map(|r| event_from_row(r, false)).collect()
    }
}
