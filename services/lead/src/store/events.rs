//! The lead event log (transactional outbox). Writers insert events inside their own
//! transaction; a consumer reads them by `position`, strictly increasing in delivery
//! order, and must never skip one whose transaction committed after a later one.
//!
//! - SQLite runs one write transaction at a time and the event id is AUTOINCREMENT, so
//!   ids are given in commit order: the id is the position.
//! - PostgreSQL commits concurrently. Each event records its writer's transaction id;
//!   [`Store::sequence`] numbers events in (transaction id, id) order, only those whose
//!   transaction is older than every transaction still running (nothing can appear
//!   before them any more), into the narrow `event_positions` table. One sequencer at a
//!   time holds `pg_try_advisory_xact_lock`. See migration `0002_event_positions`.

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

/// Most events one sequencer pass numbers; a pass that numbers fewer found all it could.
pub const SEQUENCE_BATCH: i64 = 1_000;

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
    /// Position (streamed events only; history does not need it).
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

/// Reads an event; `streamed` rows carry the lead and the position, history rows neither.
fn event_from_row(row: &sqlx::any::AnyRow, streamed: bool) -> Result<EventRow, LeadError> {
    let lead = if streamed {
        Some(parse(
            &row.try_get::<String, _>("payload")?,
            "event payload",
        )?)
    } else {
        None
    };
    Ok(EventRow {
        id: row.try_get("id")?,
        position: if streamed {
            Some(row.try_get("position")?)
        } else {
            None
        },
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

/// Inserts events in the caller's transaction, in order.
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

/// The sequencer's state, and whether anything carries a transaction id this server has
/// not handed out yet (column 4: 1 or 0), which only a logical copy from another server
/// can cause: the watermark itself, or an event above the floor. The event probe is a
/// scalar subquery with `ORDER BY .. LIMIT 1` so it stays one descent of the
/// `lead_events_tx` index (as `EXISTS` the planner chose a full scan of the table, on
/// every pass); it skips transaction ids up to `floor_tx`, those of the events a repair
/// already numbered. A later copy whose events fall below `floor_tx` is still caught by
/// the watermark once the sequencer has numbered any of them.
pub const SEQUENCER_STATE: &str = "SELECT last_position, last_tx, last_id, floor_id, \
     CAST(CASE WHEN last_tx >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint \
          OR (SELECT tx_id FROM lead_events \
              WHERE tx_id >= GREATEST(pg_snapshot_xmax(pg_current_snapshot())::text::bigint, \
                                      floor_tx + 1) \
                AND id > floor_id \
              ORDER BY tx_id LIMIT 1) IS NOT NULL \
          THEN 1 ELSE 0 END AS BIGINT) \
     FROM event_sequencer WHERE id = 1";

impl Store {
    /// Inserts events in `tx` (numbered after commit, see the module header).
    pub async fn insert_events_in(
        &self,
        tx: &mut super::WriteTx,
        events: Vec<NewEvent>,
    ) -> Result<(), LeadError> {
        Ok(insert_events(&mut tx.tx, events).await?)
    }

    /// Numbers the events whose transactions are older than every running one, in
    /// (transaction id, id) order, at most [`SEQUENCE_BATCH`]. Returns how many it
    /// numbered: 0 when there was nothing, when another replica holds the sequencer lock,
    /// and always on SQLite (where the id is the position).
    pub async fn sequence(&self) -> Result<u64, LeadError> {
        if !self.pg() {
            return Ok(0);
        }
        let mut w = self.begin().await?;
        let tx = &mut w.tx;
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
        // The state is read by a statement of its own: its snapshot is taken after the
        // lock was granted, so it sees what the previous holder committed (read in the
        // locking statement, it could be older than the lock and collide on positions).
        let state = sqlx::query(SEQUENCER_STATE).fetch_one(&mut **tx).await?;
        let (last_position, last_tx, last_id, floor_id, foreign): (i64, i64, i64, i64, i64) = (
            state.try_get(0)?,
            state.try_get(1)?,
            state.try_get(2)?,
            state.try_get(3)?,
            state.try_get(4)?,
        );
        if foreign != 0 {
            w.rollback().await?;
            // Only a logical copy to another server (pg_dump/restore, logical
            // replication) can do this; new events would wait behind the watermark forever.
            return Err(LeadError::Corrupt(
                "event sequencer: events or its watermark carry transaction ids ahead of this \
                 server's, so the database was copied logically from another server; run \
                 `lms admin repair-event-positions`"
                    .into(),
            ));
        }
        // One statement, one snapshot: the horizon and the rows it admits agree.
        let numbered = sqlx::query(
            "WITH b AS (SELECT id, tx_id, $1 + ROW_NUMBER() OVER (ORDER BY tx_id, id) AS pos \
                        FROM lead_events \
                        WHERE (tx_id, id) > ($2, $3) AND id > $5 \
                          AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
                        ORDER BY tx_id, id LIMIT $4), \
                  ins AS (INSERT INTO event_positions (position, event_row) \
                          SELECT pos, id FROM b) \
             UPDATE event_sequencer SET last_position = m.pos, last_tx = m.tx_id, last_id = m.id \
             FROM (SELECT pos, tx_id, id FROM b ORDER BY pos DESC LIMIT 1) AS m \
             WHERE event_sequencer.id = 1 RETURNING m.pos",
        )
        .bind(last_position)
        .bind(last_tx)
        .bind(last_id)
        .bind(SEQUENCE_BATCH)
        .bind(floor_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = numbered else {
            w.rollback().await?;
            return Ok(0);
        };
        let upto: i64 = row.try_get(0)?;
        w.commit().await?;
        Ok(u64::try_from(upto - last_position).unwrap_or(0))
    }

    /// PostgreSQL after a logical copy to another server (pg_dump/restore, logical
    /// replication): events and the sequencer's watermark carry the old server's
    /// transaction ids, not comparable with the new one's, so new events would never be
    /// numbered. Numbers every event still without a position (in id order, after the
    /// highest position there is) and raises the sequencer's floor above them, so the
    /// sequencer considers only events written from now on. It holds the sequencer lock
    /// and blocks writers of `lead_events` while it runs (a scan of the event table), so
    /// it is safe while the services run. Returns how many events it numbered, or `None`
    /// when nothing needed repair (and on SQLite).
    pub async fn repair_event_positions(&self) -> Result<Option<u64>, LeadError> {
        if !self.pg() {
            return Ok(None);
        }
        let mut w = self.begin().await?;
        let tx = &mut w.tx;
        // The pool's statement and lock timeouts are sized for requests, not for this.
        for set in [
            "SET LOCAL statement_timeout = 0",
            "SET LOCAL lock_timeout = 0",
        ] {
            sqlx::query(set).execute(&mut **tx).await?;
        }
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEQUENCER_LOCK)
            .execute(&mut **tx)
            .await?;
        sqlx::query("LOCK TABLE lead_events IN EXCLUSIVE MODE")
            .execute(&mut **tx)
            .await?;
        let foreign: i64 = sqlx::query(SEQUENCER_STATE)
            .fetch_one(&mut **tx)
            .await?
            .try_get(4)?;
        if foreign == 0 {
            w.rollback().await?;
            return Ok(None);
        }
        let numbered = sqlx::query(
            "INSERT INTO event_positions (position, event_row) \
             SELECT (SELECT COALESCE(MAX(position), 0) FROM event_positions) \
                    + ROW_NUMBER() OVER (ORDER BY e.id), e.id \
             FROM lead_events e \
             WHERE NOT EXISTS (SELECT 1 FROM event_positions p WHERE p.event_row = e.id)",
        )
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE event_sequencer SET \
             last_position = (SELECT COALESCE(MAX(position), 0) FROM event_positions), \
             last_tx = 0, last_id = (SELECT COALESCE(MAX(id), 0) FROM lead_events), \
             floor_id = (SELECT COALESCE(MAX(id), 0) FROM lead_events), \
             floor_tx = (SELECT COALESCE(MAX(tx_id), 0) FROM lead_events) \
             WHERE id = 1",
        )
        .execute(&mut **tx)
        .await?;
        w.commit().await?;
        Ok(Some(numbered))
    }

    /// Up to `limit` events after `position`, in position order, optionally only of some
    /// types.
    pub async fn events_after(
        &self,
        position: i64,
        types: &[String],
        limit: i64,
    ) -> Result<Vec<EventRow>, LeadError> {
        let mut sql = Sql::new(if self.pg() {
            "SELECT p.position, e.id, e.event_id, e.lead_id, e.event_type, e.payload, \
             e.changes, e.actor, e.lead_version, e.created_at \
             FROM event_positions p JOIN lead_events e ON e.id = p.event_row \
             WHERE p.position > "
        } else {
            "SELECT e.id AS position, e.id, e.event_id, e.lead_id, e.event_type, e.payload, \
             e.changes, e.actor, e.lead_version, e.created_at \
             FROM lead_events e WHERE e.id > "
        });
        let p = sql.arg(Arg::I(position));
        sql.push(&p);
        if !types.is_empty() {
            let list = sql.list(types.iter().map(|t| Arg::S(t.clone())));
            sql.push(" AND e.event_type IN ").push(&list);
        }
        let l = sql.arg(Arg::I(limit));
        sql.push(if self.pg() {
            " ORDER BY p.position LIMIT "
        } else {
            " ORDER BY e.id LIMIT "
        })
        .push(&l);
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
            "SELECT id, event_id, lead_id, event_type, changes, actor, \
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
