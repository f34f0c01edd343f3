//! Group commit of new leads. Under load most of a submission's database cost is not the
//! rows it writes but the statement and the commit around them (a round trip, executor
//! start-up, a WAL flush; on SQLite a turn at the single write lock). Submissions that
//! arrive while the writers are busy queue here and are written together: nonces, leads,
//! events and idempotency records of up to `max` submissions in one transaction (on
//! PostgreSQL one statement). A submission that finds a writer idle is written at once,
//! so an unloaded system waits for nothing.
//!
//! A batch is all or nothing, and so is each submission in it: when a batch is refused
//! (a reused nonce, a racing idempotency key, any database error) nothing of it was
//! written, and its submissions are written again one by one, each getting the answer it
//! would have had alone. Submissions with a duplicate-key window (MERGE, SUPPRESS) never
//! join a batch: their claim must see the leads committed before them.

use super::events::EVENT_COLS;
use super::sql::AnyQuery;
use super::submit::{Conflict, IdempotencyRecord, NewSubmission};
use super::{LEAD_COLS, LeadValues, Store};
use crate::error::LeadError;
use lms_platform::db::to_micros;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// What a writer answers a submission.
pub(crate) type Outcome = Result<Result<(), Conflict>, LeadError>;

/// A queued submission and where its answer goes.
pub(crate) type Pending = (NewSubmission, oneshot::Sender<Outcome>);

/// The queue's sending side, held by the [`Store`] the service uses.
pub(crate) type Queue = mpsc::UnboundedSender<Pending>;

/// Starts `writers` tasks writing batches of at most `max` submissions through `store`
/// (a store without a queue of its own); they end when every [`Queue`] is dropped.
pub(crate) fn start(store: Store, max: usize, writers: usize) -> Queue {
    let (tx, rx) = mpsc::unbounded_channel();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..writers.max(1) {
        tokio::spawn(run_writer(store.clone(), rx.clone(), max.max(1)));
    }
    tx
}

async fn run_writer(store: Store, rx: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>, max: usize) {
    loop {
        let mut batch = Vec::with_capacity(max);
        // One writer at a time waits for work and takes all that is queued; the others
        // are writing meanwhile or wait for their turn to take.
        if rx.lock().await.recv_many(&mut batch, max).await == 0 {
            return;
        }
        store.write_batch(batch).await;
    }
}

/// One submission's rows, serialized once.
struct Rows {
    nonce: String,
    nonce_expire: i64,
    lead: LeadValues,
    dup_key: Option<String>,
    event: super::NewEvent,
    idem: Option<(String, IdempotencyRecord, i64)>,
}

impl Rows {
    fn of(s: &NewSubmission) -> Result<Self, LeadError> {
        Ok(Self {
            nonce: s.nonce.clone(),
            nonce_expire: s.nonce_expire_micros,
            lead: LeadValues::of(&s.lead)?,
            dup_key: s.dup_key.clone(),
            event: s.event.clone(),
            idem: s.idempotency.clone().map(|i| {
                (
                    s.lead.product_code.clone(),
                    i,
                    to_micros(s.lead.create_time),
                )
            }),
        })
    }
}

/// `INSERT INTO <table> (<cols>) VALUES (...), (...)` with `rows` rows of `width`
/// placeholders numbered from `*next`.
fn insert(table: &str, cols: &str, rows: usize, width: usize, next: &mut usize) -> String {
    let mut s = format!("INSERT INTO {table} ({cols}) VALUES ");
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            let sep = if c == 0 { "" } else { ", " };
            let _ = write!(s, "{sep}${}", *next);
            *next += 1;
        }
        s.push(')');
    }
    s
}

/// The statements of a batch, in the order [`bind_all`] binds: nonces, leads, events,
/// idempotency records (when any).
fn statements(n: usize, idem: usize) -> Vec<String> {
    let mut next = 1;
    let mut out = vec![
        insert("form_nonces", "nonce, expire_time", n, 2, &mut next),
        insert("leads", &format!("{LEAD_COLS}, dup_key"), n, 18, &mut next),
        insert("lead_events", EVENT_COLS, n, 8, &mut next),
    ];
    if idem > 0 {
        out.push(insert(
            "idempotency_keys",
            "product_code, idem_key, fingerprint, response, create_time",
            idem,
            5,
            &mut next,
        ));
    }
    out
}

impl Store {
    /// Writes a batch and answers each submission in it.
    async fn write_batch(&self, mut batch: Vec<Pending>) {
        if batch.len() == 1 {
            if let Some((s, reply)) = batch.pop() {
                let _ = reply.send(self.insert_one(s).await);
            }
            return;
        }
        let rows: Result<Vec<Rows>, LeadError> = batch.iter().map(|(s, _)| Rows::of(s)).collect();
        let written = match rows {
            Ok(rows) => self.insert_rows(rows).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {
                for (_, reply) in batch {
                    let _ = reply.send(Ok(Ok(())));
                }
            }
            Err(e) => {
                tracing::debug!(size = batch.len(), error = %e, "batch refused; writing its submissions one by one");
                for (s, reply) in batch {
                    let _ = reply.send(self.insert_one(s).await);
                }
            }
        }
    }

    /// Inserts every row of the batch, all or nothing.
    async fn insert_rows(&self, rows: Vec<Rows>) -> Result<(), LeadError> {
        let idem = rows.iter().filter(|r| r.idem.is_some()).count();
        let sql = statements(rows.len(), idem);
        if self.pg() {
            // One statement: the inserts as data-modifying CTEs, the last one outside.
            let (last, ctes) = sql
                .split_last()
                .ok_or(LeadError::Corrupt("empty batch".into()))?;
            let mut text = String::from("WITH ");
            for (i, s) in ctes.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(text, "{sep}w{i} AS ({s})");
            }
            text.push(' ');
            text.push_str(last);
            bind_all(sqlx::query(&text), rows)
                .execute(&self.db.pool)
                .await?;
            return Ok(());
        }
        let mut w = self.begin().await?;
        let mut parts = split(rows);
        let mut done: Result<(), sqlx::Error> = Ok(());
        for (i, text) in sql.iter().enumerate() {
            let q = parts.bind(i, sqlx::query(text));
            if let Err(e) = q.execute(&mut *w.tx).await {
                done = Err(e);
                break;
            }
        }
        match done {
            Ok(()) => w.commit().await,
            Err(e) => {
                w.rollback().await?;
                Err(e.into())
            }
        }
    }
}

/// Binds every row's values in statement order (see [`statements`]).
fn bind_all(q: AnyQuery<'_>, rows: Vec<Rows>) -> AnyQuery<'_> {
    let mut parts = split(rows);
    (0..4).fold(q, |q, i| parts.bind(i, q))
}

/// The rows regrouped by statement.
struct Parts {
    nonces: Vec<(String, i64)>,
    leads: Vec<(LeadValues, Option<String>)>,
    events: Vec<super::NewEvent>,
    idem: Vec<(String, IdempotencyRecord, i64)>,
}

fn split(rows: Vec<Rows>) -> Parts {
    let mut p = Parts {
        nonces: Vec::with_capacity(rows.len()),
        leads: Vec::with_capacity(rows.len()),
        events: Vec::with_capacity(rows.len()),
        idem: Vec::new(),
    };
    for r in rows {
        p.nonces.push((r.nonce, r.nonce_expire));
        p.leads.push((r.lead, r.dup_key));
        p.events.push(r.event);
        p.idem.extend(r.idem);
    }
    p
}

impl Parts {
    /// Binds the values of statement `i` (taking them).
    fn bind<'q>(&mut self, i: usize, mut q: AnyQuery<'q>) -> AnyQuery<'q> {
        match i {
            0 => {
                for (n, exp) in self.nonces.drain(..) {
                    q = q.bind(n).bind(exp);
                }
            }
            1 => {
                for (v, dup) in self.leads.drain(..) {
                    q = v.bind(q).bind(dup);
                }
            }
            2 => {
                for e in self.events.drain(..) {
                    q = e.bind(q);
                }
            }
            _ => {
                for (product, i, at) in self.idem.drain(..) {
                    q = super::submit::bind_idem(q, &product, i, at);
                }
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_run_on_across_the_statements() {
        let s = statements(2, 1);
        assert_eq!(
            s[0],
            "INSERT INTO form_nonces (nonce, expire_time) VALUES ($1, $2), ($3, $4)"
        );
        assert!(s[1].ends_with("($5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22), ($23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40)"));
        assert!(s[2].ends_with(
            "($41, $42, $43, $44, $45, $46, $47, $48), ($49, $50, $51, $52, $53, $54, $55, $56)"
        ));
        assert!(s[3].ends_with("VALUES ($57, $58, $59, $60, $61)"));
        assert_eq!(statements(3, 0).len(), 3);
    }
}
