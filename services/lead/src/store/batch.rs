//! Group commit of new leads. Under load most of a submission's database cost is not the
//! rows it writes but the statement and the commit around them (a round trip, executor
//! start-up, a WAL flush; on SQLite a turn at the single write lock and a hand-off to
//! sqlx's worker thread per statement). Submissions that arrive while the writers are
//! busy queue here and are written together: nonces, leads, events and idempotency
//! records of up to `max` submissions in one transaction (on PostgreSQL one statement).
//! A submission that finds a writer idle is written at once, so an unloaded system waits
//! for nothing.
//!
//! A batch is all or nothing, and so is each submission in it. A second use of a nonce
//! or idempotency key within one batch is held out and written after it, alone. A batch
//! refused by a unique key (a replayed token, a racing idempotency key, a clashing lead
//! number) or aborted by a PostgreSQL deadlock is split in halves until the offender
//! stands alone, so every caller gets the answer it would have had without batching. Any
//! other failure answers the whole batch with `WriteUnavailable` (503; the request may be
//! sent again) rather than retrying each submission against a failing database. Submissions with a duplicate-key
//! window (MERGE, SUPPRESS) never join a batch: their claim must see the leads committed
//! before them.

use super::events::EVENT_COLS;
use super::sql::AnyQuery;
use super::submit::{Conflict, IdempotencyRecord, NewSubmission};
use super::{LEAD_COLS, LeadValues, Store};
use crate::error::LeadError;
use futures::future::BoxFuture;
use lms_platform::db::to_micros;
use std::collections::HashSet;
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

/// The statements of a batch of `n`, in the order [`Parts::bind`] binds: nonces, leads,
/// events, idempotency records. SQLite gets plain multi-row INSERTs, the last only when
/// `idem` > 0. PostgreSQL gets one statement of data-modifying CTEs whose text depends on
/// `n` alone (prepared statements are cached per text): every submission has an
/// idempotency row, NULL without a key, and the NULL rows are filtered out.
fn statements(pg: bool, n: usize, idem: usize) -> Vec<String> {
    // SQLite binds `$k` to the k-th argument of its own statement: each of its
    // statements numbers from 1. PostgreSQL's one statement numbers on across the parts.
    let mut next = 1;
    let from_one = |next: &mut usize| {
        if !pg {
            *next = 1;
        }
    };
    let mut out = vec![insert("form_nonces", "nonce, expire_time", n, 2, &mut next)];
    from_one(&mut next);
    out.push(insert(
        "leads",
        &format!("{LEAD_COLS}, dup_key"),
        n,
        18,
        &mut next,
    ));
    from_one(&mut next);
    out.push(insert("lead_events", EVENT_COLS, n, 8, &mut next));
    const IDEM_COLS: &str = "product_code, idem_key, fingerprint, response, create_time";
    if pg {
        let mut rows = String::new();
        for r in 0..n {
            let sep = if r == 0 { "" } else { ", " };
            let p = next;
            let _ = write!(
                rows,
                "{sep}(${p}::text, ${}::text, ${}::text, ${}::text, ${}::bigint)",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            );
            next += 5;
        }
        out.push(format!(
            "INSERT INTO idempotency_keys ({IDEM_COLS}) SELECT p, k, f, r, t FROM \
             (VALUES {rows}) AS v (p, k, f, r, t) WHERE k IS NOT NULL ORDER BY p, k"
        ));
        let last = out.len() - 1;
        let mut text = String::from("WITH ");
        for (i, s) in out.iter().enumerate() {
            if i == last {
                let _ = write!(text, " {s}");
            } else {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(text, "{sep}w{i} AS ({s})");
            }
        }
        return vec![text];
    }
    if idem > 0 {
        from_one(&mut next);
        out.push(insert("idempotency_keys", IDEM_COLS, idem, 5, &mut next));
    }
    out
}

impl Store {
    /// Writes a batch and answers each submission in it.
    async fn write_batch(&self, batch: Vec<Pending>) {
        // A caller that gave up (timeout, disconnect) before its turn gets nothing
        // written, as when it gave up waiting for a connection.
        let batch = batch.into_iter().filter(|(_, r)| !r.is_closed());
        // A second use of a nonce or idempotency key in the same batch would refuse the
        // whole batch; it is written after the batch, alone, and answered as a reuse
        // (or a replay). Rows go in nonce order and idempotency keys in key order, so two
        // concurrent batches take their unique-index locks in the same order within each
        // table; should they still deadlock (across the tables), PostgreSQL aborts one,
        // which is then split and written in parts.
        let mut nonces = HashSet::new();
        let mut keys = HashSet::new();
        let (mut first, later): (Vec<Pending>, Vec<Pending>) = batch.partition(|(s, _)| {
            let fresh_nonce = nonces.insert(s.nonce.clone());
            let fresh_key = s
                .idempotency
                .as_ref()
                .is_none_or(|i| keys.insert((s.lead.product_code.clone(), i.key.clone())));
            fresh_nonce && fresh_key
        });
        first.sort_by(|a, b| a.0.nonce.cmp(&b.0.nonce));
        self.write_group(first).await;
        for (s, reply) in later {
            let _ = reply.send(self.insert_one(s).await);
        }
    }

    /// Writes `group` in one transaction. When a unique constraint refuses it (a nonce or
    /// idempotency key already stored), nothing was written: the group is split in halves
    /// and each is written the same way, so one reused token costs about 2 log2(n)
    /// statements, and the submission that holds it is finally written alone and
    /// answered exactly as it would have been without batching. Any other failure
    /// answers the whole group: nothing was written, and it may be sent again.
    fn write_group(&self, mut group: Vec<Pending>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if group.len() <= 1 {
                if let Some((s, reply)) = group.pop() {
                    let _ = reply.send(self.insert_one(s).await);
                }
                return;
            }
            let rows: Result<Vec<Rows>, LeadError> =
                group.iter().map(|(s, _)| Rows::of(s)).collect();
            let written = match rows {
                Ok(rows) => self.insert_rows(rows).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => {
                    for (_, reply) in group {
                        let _ = reply.send(Ok(Ok(())));
                    }
                }
                Err(LeadError::Db(e)) if worth_splitting(&e) => {
                    tracing::debug!(
                        size = group.len(),
                        "batch refused by a unique key; splitting it"
                    );
                    let second = group.split_off(group.len() / 2);
                    self.write_group(group).await;
                    self.write_group(second).await;
                }
                Err(e) => {
                    let why = format!("{e:#}");
                    tracing::error!(size = group.len(), error = %why, "lead batch failed");
                    for (_, reply) in group {
                        let _ = reply.send(Err(LeadError::WriteUnavailable(why.clone())));
                    }
                }
            }
        })
    }

    /// Inserts every row of the batch, all or nothing.
    async fn insert_rows(&self, rows: Vec<Rows>) -> Result<(), LeadError> {
        let pg = self.pg();
        let idem = rows.iter().filter(|r| r.idem.is_some()).count();
        let sql = statements(pg, rows.len(), idem);
        let mut parts = split(rows, pg);
        if pg {
            let q = (0..4).fold(sqlx::query(&sql[0]), |q, i| parts.bind(i, q));
            q.execute(&self.db.pool).await?;
            return Ok(());
        }
        let mut w = self.begin().await?;
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
                // The statement's error is the one that says what to do with the batch.
                if let Err(r) = w.rollback().await {
                    tracing::warn!(error = %r, "rolling back a refused lead batch failed");
                }
                Err(e.into())
            }
        }
    }
}

/// True when splitting the batch may let part of it through: a unique key refused one of
/// its rows (a reused nonce or idempotency key, or a clash on a lead's number or id,
/// which the submission alone then reports as it would have without batching), or
/// PostgreSQL broke a deadlock or serialization conflict with another writer.
fn worth_splitting(e: &sqlx::Error) -> bool {
    if lms_platform::db::Db::is_unique_violation(e) {
        return true;
    }
    match e {
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("40P01" | "40001")),
        _ => false,
    }
}

/// The rows regrouped by statement.
struct Parts {
    nonces: Vec<(String, i64)>,
    leads: Vec<(LeadValues, Option<String>)>,
    events: Vec<super::NewEvent>,
    /// One per submission on PostgreSQL (`None` binds a NULL row), only the present
    /// ones on SQLite.
    idem: Vec<Option<(String, IdempotencyRecord, i64)>>,
}

fn split(rows: Vec<Rows>, pg: bool) -> Parts {
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
        if pg || r.idem.is_some() {
            p.idem.push(r.idem);
        }
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
                for idem in self.idem.drain(..) {
                    q = match idem {
                        Some((product, i, at)) => super::submit::bind_idem(q, &product, i, at),
                        None => q
                            .bind(None::<String>)
                            .bind(None::<String>)
                            .bind(None::<String>)
                            .bind(None::<String>)
                            .bind(None::<i64>),
                    };
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
    fn each_sqlite_statement_numbers_its_placeholders_from_one() {
        let s = statements(false, 2, 1);
        assert_eq!(
            s[0],
            "INSERT INTO form_nonces (nonce, expire_time) VALUES ($1, $2), ($3, $4)"
        );
        assert!(s[1].ends_with("($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18), ($19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36)"));
        assert!(s[2].ends_with(
            "($1, $2, $3, $4, $5, $6, $7, $8), ($9, $10, $11, $12, $13, $14, $15, $16)"
        ));
        assert!(s[3].ends_with("VALUES ($1, $2, $3, $4, $5)"));
        assert_eq!(statements(false, 3, 0).len(), 3);
    }

    #[test]
    fn postgres_gets_one_statement_whose_text_depends_on_the_size_alone() {
        let s = statements(true, 2, 1);
        assert_eq!(s.len(), 1);
        assert_eq!(s, statements(true, 2, 0));
        assert_eq!(s, statements(true, 2, 2));
        assert!(s[0].starts_with("WITH w0 AS (INSERT INTO form_nonces"));
        // Numbered on across the parts: the events of row 2 end at $56.
        assert!(s[0].contains("($49, $50, $51, $52, $53, $54, $55, $56))"));
        assert!(s[0].contains("($57::text, $58::text, $59::text, $60::text, $61::bigint), ($62::text, $63::text, $64::text, $65::text, $66::bigint)) AS v (p, k, f, r, t) WHERE k IS NOT NULL ORDER BY p, k"));
    }
}
