//! The submission path's SQL: counters, idempotency records, duplicate lookup and the one
//! transaction that stores a lead with its event, nonce and idempotency record. On
//! PostgreSQL that transaction is a single statement (data-modifying CTEs), so a
//! submission costs one round trip (counters are reserved in blocks, see `reserve`);
//! products with a MERGE or SUPPRESS duplicate policy first claim the duplicate key in
//! `dup_guards`, in the same transaction, so concurrent twins cannot both create a lead.

use super::events::{EVENT_COLS, NewEvent};
use super::sql::AnyQuery;
use super::{LEAD_COLS, LeadValues, Store, lead_from_row};
use crate::domain::Lead;
use crate::error::LeadError;
use lms_platform::db::{Db, to_micros};
use sqlx::{Any, Row, Transaction};
use std::sync::LazyLock;

/// An idempotency record to store with a submission.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    /// The client's key.
    pub key: String,
    /// SHA-256 of the canonical request.
    pub fingerprint: String,
    /// The answer (JSON of `Submitted`).
    pub response: String,
}

/// Everything a new lead writes.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    /// The lead.
    pub lead: Lead,
    /// Its duplicate key, when the product defines one.
    pub dup_key: Option<String>,
    /// Its `LeadCreated` event.
    pub event: NewEvent,
    /// The form token's nonce, consumed now.
    pub nonce: String,
    /// When the token expires (the nonce is kept until then).
    pub nonce_expire_micros: i64,
    /// The idempotency record, when the request had a key.
    pub idempotency: Option<IdempotencyRecord>,
    /// Under MERGE or SUPPRESS: the start of the duplicate window (micros). The lead is
    /// written only if no lead with its duplicate key was created since then.
    pub dup_window_start: Option<i64>,
}

/// What a duplicate submission writes, decided from the existing lead's current state.
#[derive(Debug)]
pub struct DuplicateWrite<T> {
    /// Under MERGE: the merged lead (version already raised) and its events.
    pub merged: Option<(Lead, Vec<NewEvent>)>,
    /// The idempotency record, when the request had a key.
    pub idempotency: Option<IdempotencyRecord>,
    /// The caller's answer, returned once everything is committed.
    pub answer: T,
}

/// Counters reserved in blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// The number in `lead_uid`.
    LeadUid,
    /// The round-robin assignment cursor.
    Assignment,
}

/// A unique constraint that refused a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The form token's nonce was already used.
    Nonce,
    /// Another request with the same idempotency key committed first.
    IdempotencyKey,
    /// The lead changed under a merge.
    Stale,
    /// A lead with the same duplicate key was created within the window meanwhile.
    Duplicate,
}

/// Claims a duplicate key for a new lead unless a lead inside the window ($5) holds it.
const GUARD_CLAIM: &str = "INSERT INTO dup_guards (product_code, dup_key, lead_id, create_time) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (product_code, dup_key) DO UPDATE \
    SET lead_id = excluded.lead_id, create_time = excluded.create_time \
    WHERE dup_guards.create_time < $5";

const NONCE_INSERT: &str = "INSERT INTO form_nonces (nonce, expire_time) VALUES ($1, $2)";
const IDEM_INSERT: &str = "INSERT INTO idempotency_keys \
    (product_code, idem_key, fingerprint, response, create_time) VALUES ($1, $2, $3, $4, $5)";

static LEAD_INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO leads ({LEAD_COLS}, dup_key) VALUES ({})",
        placeholders(1, 18)
    )
});

static EVENT_INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO lead_events ({EVENT_COLS}) VALUES ({})",
        placeholders(1, 8)
    )
});

/// PostgreSQL: nonce, lead and event in one statement ($1..$28).
static PG_SUBMIT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH n AS (INSERT INTO form_nonces (nonce, expire_time) VALUES ($1, $2)), \
         l AS (INSERT INTO leads ({LEAD_COLS}, dup_key) VALUES ({})) \
         INSERT INTO lead_events ({EVENT_COLS}) VALUES ({})",
        placeholders(3, 18),
        placeholders(21, 8)
    )
});

/// PostgreSQL: the same plus the idempotency record ($29..$33).
static PG_SUBMIT_IDEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH n AS (INSERT INTO form_nonces (nonce, expire_time) VALUES ($1, $2)), \
         l AS (INSERT INTO leads ({LEAD_COLS}, dup_key) VALUES ({})), \
         e AS (INSERT INTO lead_events ({EVENT_COLS}) VALUES ({})) \
         INSERT INTO idempotency_keys \
         (product_code, idem_key, fingerprint, response, create_time) VALUES ({})",
        placeholders(3, 18),
        placeholders(21, 8),
        placeholders(29, 5)
    )
});

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which constraint a unique violation hit, by table name.
fn conflict_of(e: &sqlx::Error) -> Option<Conflict> {
    if !Db::is_unique_violation(e) {
        return None;
    }
    let sqlx::Error::Database(d) = e else {
        return None;
    };
    let text = format!("{} {}", d.constraint().unwrap_or_default(), d.message());
    if text.contains("form_nonces") {
        Some(Conflict::Nonce)
    } else if text.contains("idempotency_keys") {
        Some(Conflict::IdempotencyKey)
    } else {
        None
    }
}

fn conflict_or(e: sqlx::Error) -> Result<Conflict, LeadError> {
    conflict_of(&e).ok_or(LeadError::Db(e))
}

impl Store {
    /// Reserves `n` values of a counter (lead numbers or round-robin slots), ascending.
    /// Reservations are not transactional (a crash leaves a gap) and, on PostgreSQL, come
    /// from a sequence, so concurrent submissions and replicas never wait on each other.
    pub async fn reserve(&self, counter: Counter, n: i64) -> Result<Vec<i64>, LeadError> {
        if self.pg() {
            let sql = match counter {
                Counter::LeadUid => "SELECT nextval('lead_uid_seq') FROM generate_series(1, $1)",
                Counter::Assignment => {
                    "SELECT nextval('assignment_seq') FROM generate_series(1, $1)"
                }
            };
            let mut values: Vec<i64> = sqlx::query_scalar(sql)
                .bind(n)
                .fetch_all(&self.db.pool)
                .await?;
            values.sort_unstable();
            return Ok(values);
        }
        let name = match counter {
            Counter::LeadUid => "lead_uid",
            Counter::Assignment => "assignment",
        };
        let _gate = self.gate().await;
        let end: i64 = sqlx::query_scalar(
            "UPDATE counters SET value = value + $1 WHERE name = $2 RETURNING value",
        )
        .bind(n)
        .bind(name)
        .fetch_one(&self.db.pool)
        .await?;
        Ok((end - n + 1..=end).collect())
    }

    /// The stored `(fingerprint, response)` of an idempotency key.
    pub async fn idempotency(
        &self,
        product_code: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, LeadError> {
        let row = sqlx::query(
            "SELECT fingerprint, response FROM idempotency_keys \
             WHERE product_code = $1 AND idem_key = $2",
        )
        .bind(product_code.to_string())
        .bind(key.to_string())
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        })
    }

    /// The newest lead of the product with this duplicate key created at or after `since`.
    pub async fn find_duplicate(
        &self,
        product_code: &str,
        dup_key: &str,
        since_micros: i64,
    ) -> Result<Option<Lead>, LeadError> {
        let sql = format!(
            "SELECT {LEAD_COLS} FROM leads WHERE product_code = $1 AND dup_key = $2 \
             AND create_time >= $3 ORDER BY create_time DESC, id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(product_code.to_string())
            .bind(dup_key.to_string())
            .bind(since_micros)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(lead_from_row).transpose()
    }

    /// Stores a new lead, its event, the consumed nonce and the idempotency record, all
    /// or nothing. `Ok(Err(conflict))` when a unique constraint refused it, or when the
    /// lead's duplicate key is held by a lead inside `dup_window_start` (then the caller
    /// treats the submission as the duplicate it is). Without a window the submission may
    /// be written in a batch with others (see the `batch` module); the answer is the same.
    pub async fn insert_submission(
        &self,
        s: NewSubmission,
    ) -> Result<Result<(), Conflict>, LeadError> {
        let windowed = s.dup_key.is_some() && s.dup_window_start.is_some();
        let s = match &self.queue {
            Some(queue) if !windowed => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                match queue.send((s, reply)) {
                    Ok(()) => {
                        // No answer: the writer stopped (it panicked, or the runtime is
                        // shutting down) before it wrote this submission.
                        return answer.await.unwrap_or_else(|_| {
                            tracing::error!("the lead writer stopped before answering");
                            Err(LeadError::WriteUnavailable(
                                "the lead writer stopped".into(),
                            ))
                        });
                    }
                    // Every writer is gone (panicked): write it here.
                    Err(tokio::sync::mpsc::error::SendError((s, _))) => s,
                }
            }
            _ => s,
        };
        self.insert_one(s).await
    }

    /// [`Store::insert_submission`] on its own: without a window, PostgreSQL writes it all
    /// in one statement; with one, the claim comes first in a transaction.
    pub(crate) async fn insert_one(
        &self,
        s: NewSubmission,
    ) -> Result<Result<(), Conflict>, LeadError> {
        let values = LeadValues::of(&s.lead)?;
        let now = to_micros(s.lead.create_time);
        let guard = match (&s.dup_key, s.dup_window_start) {
            (Some(k), Some(since)) => Some((k.clone(), since)),
            _ => None,
        };
        if self.pg() && guard.is_none() {
            let sql: &str = if s.idempotency.is_some() {
                &PG_SUBMIT_IDEM
            } else {
                &PG_SUBMIT
            };
            let mut q = sqlx::query(sql).bind(s.nonce).bind(s.nonce_expire_micros);
            q = values.bind(q).bind(s.dup_key);
            q = s.event.bind(q);
            if let Some(i) = s.idempotency {
                q = bind_idem(q, &s.lead.product_code, i, now);
            }
            return match q.execute(&self.db.pool).await {
                Ok(_) => Ok(Ok(())),
                Err(e) => Ok(Err(conflict_or(e)?)),
            };
        }
        let mut w = self.begin().await?;
        let tx = &mut w.tx;
        let written = async {
            if let Some((key, since)) = guard {
                let claimed = sqlx::query(GUARD_CLAIM)
                    .bind(s.lead.product_code.clone())
                    .bind(key)
                    .bind(s.lead.id.clone())
                    .bind(now)
                    .bind(since)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                if claimed == 0 {
                    return Ok(Err(Conflict::Duplicate));
                }
            }
            sqlx::query(NONCE_INSERT)
                .bind(s.nonce.clone())
                .bind(s.nonce_expire_micros)
                .execute(&mut **tx)
                .await?;
            values
                .bind(sqlx::query(&LEAD_INSERT))
                .bind(s.dup_key.clone())
                .execute(&mut **tx)
                .await?;
            s.event
                .clone()
                .bind(sqlx::query(&EVENT_INSERT))
                .execute(&mut **tx)
                .await?;
            if let Some(i) = s.idempotency.clone() {
                bind_idem(sqlx::query(IDEM_INSERT), &s.lead.product_code, i, now)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok::<Result<(), Conflict>, sqlx::Error>(Ok(()))
        }
        .await;
        match written {
            Ok(Ok(())) => {
                w.commit().await?;
                Ok(Ok(()))
            }
            Ok(Err(c)) => {
                w.rollback().await?;
                Ok(Err(c))
            }
            Err(e) => {
                w.rollback().await?;
                Ok(Err(conflict_or(e)?))
            }
        }
    }

    /// Stores a duplicate submission against the existing lead `lead_id`: locks the lead,
    /// lets `decide` look at its current state and say what to write (a merged lead and its
    /// events, or nothing for a suppressed duplicate; the idempotency record; the answer),
    /// then writes that with the consumed nonce, all or nothing. Concurrent duplicates of
    /// one lead thus merge one after the other instead of failing on a stale version.
    /// `Ok(Err(Conflict::Stale))` when the lead is gone.
    pub async fn write_duplicate<T>(
        &self,
        lead_id: &str,
        nonce: &str,
        nonce_expire_micros: i64,
        now_micros: i64,
        decide: impl FnOnce(Lead) -> Result<DuplicateWrite<T>, LeadError>,
    ) -> Result<Result<T, Conflict>, LeadError> {
        let mut w = self.begin().await?;
        let lock = if self.pg() { " FOR UPDATE" } else { "" };
        let row = sqlx::query(&format!(
            "SELECT {LEAD_COLS} FROM leads WHERE id = $1{lock}"
        ))
        .bind(lead_id.to_string())
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some(current) = row.as_ref().map(lead_from_row).transpose()? else {
            w.rollback().await?;
            return Ok(Err(Conflict::Stale));
        };
        let old_version = current.version;
        let product = current.product_code.clone();
        let DuplicateWrite {
            merged,
            idempotency,
            answer,
        } = match decide(current) {
            Ok(d) => d,
            Err(e) => {
                w.rollback().await?;
                return Err(e);
            }
        };
        let tx = &mut w.tx;
        let written = async {
            sqlx::query(NONCE_INSERT)
                .bind(nonce.to_string())
                .bind(nonce_expire_micros)
                .execute(&mut **tx)
                .await?;
            if let Some((lead, events)) = merged {
                if !update_lead(tx, &lead, old_version).await? {
                    return Ok(Err(Conflict::Stale));
                }
                super::events::insert_events(tx, events).await?;
            }
            if let Some(i) = idempotency {
                bind_idem(sqlx::query(IDEM_INSERT), &product, i, now_micros)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok::<Result<(), Conflict>, sqlx::Error>(Ok(()))
        }
        .await;
        match written {
            Ok(Ok(())) => {
                w.commit().await?;
                Ok(Ok(answer))
            }
            Ok(Err(c)) => {
                w.rollback().await?;
                Ok(Err(c))
            }
            Err(e) => {
                w.rollback().await?;
                Ok(Err(conflict_or(e)?))
            }
        }
    }

    /// Deletes nonces of expired tokens and idempotency records older than the cutoff.
    pub async fn purge(&self, now_micros: i64, idem_before_micros: i64) -> Result<u64, LeadError> {
        let _gate = self.gate().await;
        let a = sqlx::query("DELETE FROM form_nonces WHERE expire_time < $1")
            .bind(now_micros)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM idempotency_keys WHERE create_time < $1")
            .bind(idem_before_micros)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        Ok(a + b)
    }
}

pub(crate) fn bind_idem<'q>(
    q: AnyQuery<'q>,
    product_code: &str,
    i: IdempotencyRecord,
    now: i64,
) -> AnyQuery<'q> {
    q.bind(product_code.to_string())
        .bind(i.key)
        .bind(i.fingerprint)
        .bind(i.response)
        .bind(now)
}

/// Rewrites a lead's mutable columns when its stored version is `old_version`; false when
/// it is not.
pub(crate) async fn update_lead(
    tx: &mut Transaction<'static, Any>,
    lead: &Lead,
    old_version: i64,
) -> Result<bool, sqlx::Error> {
    let v = LeadValues::of(lead).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let done = sqlx::query(
        "UPDATE leads SET status = $1, priority = $2, score = $3, assignee = $4, \
         form_data = $5, config_hash = $6, scoring_version = $7, lead_comment = $8, \
         score_breakdown = $9, version = $10, update_time = $11 \
         WHERE id = $12 AND version = $13",
    )
    .bind(v.status)
    .bind(v.priority)
    .bind(v.score)
    .bind(v.assignee)
    .bind(v.form_data)
    .bind(v.config_hash)
    .bind(v.scoring_version)
    .bind(v.lead_comment)
    .bind(v.score_breakdown)
    .bind(v.version)
    .bind(v.update_time)
    .bind(v.id)
    .bind(old_version)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
