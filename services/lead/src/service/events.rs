//! The event log's moving parts: the sequencer task that numbers committed events on
//! PostgreSQL (woken by writers after commit, else every poll interval; on SQLite events
//! are numbered as they are written and it only wakes followers), followers that stream events
//! after a cursor, and the janitor that forgets expired nonces and old idempotency
//! records.

use super::LeadService;
use crate::error::LeadError;
use crate::store::{EventRow, SEQUENCE_BATCH, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// Events sent per read of a follower.
const STREAM_BATCH: i64 = 500;
/// How long the sequencer waits after a poke, so commits arriving together are numbered
/// in one pass. A pass costs five round trips on PostgreSQL (begin, lock, state, number,
/// commit): at 10 ms, under load, passes were ~8% of the lead service's statements; at
/// 50 ms they are under 2%, and an event still reaches followers within ~50 ms of its
/// commit (consumers are notifications and webhooks, not a request's answer).
const COALESCE: Duration = Duration::from_millis(50);
/// A lasting sequencer failure is logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// How often the janitor runs.
const JANITOR_EVERY: Duration = Duration::from_secs(600);

/// Wake-ups between writers, the sequencer and followers.
#[derive(Debug)]
pub struct EventHub {
    /// Writers poke the sequencer after commit.
    poke: Notify,
    /// The sequencer tells followers that positions were assigned.
    sequenced: Notify,
    /// Poll interval when nobody pokes.
    poll: Duration,
}

impl EventHub {
    /// Creates a hub polling every `poll`.
    pub fn new(poll: Duration) -> Self {
        Self {
            poke: Notify::new(),
            sequenced: Notify::new(),
            poll,
        }
    }

    /// Wakes the sequencer (a committed transaction wrote events).
    pub fn poke(&self) {
        self.poke.notify_one();
    }

    /// Runs the sequencer until the process ends. One per process; on PostgreSQL only one
    /// replica at a time numbers events (advisory lock), the others find nothing to do.
    pub async fn run_sequencer(self: Arc<Self>, store: Store) {
        let mut warned: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                () = self.poke.notified() => {
                    // Let a burst of commits gather so one pass numbers them all.
                    tokio::time::sleep(COALESCE.min(self.poll)).await;
                }
                () = tokio::time::sleep(self.poll) => {}
            }
            if !store.numbers_later() {
                self.sequenced.notify_waiters();
                continue;
            }
            loop {
                match store.sequence().await {
                    Ok(0) => break,
                    Ok(n) => {
                        tracing::debug!(count = n, "events sequenced");
                        self.sequenced.notify_waiters();
                        // A short batch took everything numberable; what is held back
                        // by a running transaction comes with the next poke or poll.
                        if n < SEQUENCE_BATCH.unsigned_abs() {
                            break;
                        }
                    }
                    Err(e) => {
                        // Every commit pokes the sequencer: a lasting failure is
                        // reported once a minute, not once per submission.
                        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                            tracing::warn!(error = %e, "event sequencer failed; retrying");
                            warned = Some(tokio::time::Instant::now());
                        } else {
                            tracing::debug!(error = %e, "event sequencer failed; retrying");
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// Runs the janitor until the process ends.
pub async fn run_janitor(svc: Arc<LeadService>) {
    loop {
        tokio::time::sleep(JANITOR_EVERY).await;
        let now = svc.clock.now();
        let keep = chrono::Duration::hours(
            i64::try_from(svc.cfg.idempotency_retention_hours.max(24)).unwrap_or(24),
        );
        match svc
            .store
            .purge(
                // An hour past expiry, so clock skew with config cannot revive a token.
                lms_platform::db::to_micros(now - chrono::Duration::hours(1)),
                lms_platform::db::to_micros(now - keep),
            )
            .await
        {
            Ok(n) if n > 0 => {
                tracing::info!(rows = n, "expired nonces and idempotency keys purged")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "janitor failed"),
        }
    }
}

impl LeadService {
    /// Streams sequenced events after `after`, in position order; then, when `follow`,
    /// waits for new ones until the receiver is dropped.
    pub fn stream(
        self: &Arc<Self>,
        after: i64,
        types: Vec<String>,
        follow: bool,
    ) -> mpsc::Receiver<Result<EventRow, LeadError>> {
        let (tx, rx) = mpsc::channel(256);
        let svc = self.clone();
        tokio::spawn(async move {
            let hub = svc.hub.clone();
            let mut cursor = after;
            loop {
                let notified = hub.sequenced.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let batch = match svc.store.events_after(cursor, &types, STREAM_BATCH).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let full = i64::try_from(batch.len()).unwrap_or(0) >= STREAM_BATCH;
                for e in batch {
                    cursor = e.position.unwrap_or(cursor);
                    if tx.send(Ok(e)).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                if !follow {
                    return;
                }
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep(hub.poll) => {}
                    () = tx.closed() => return,
                }
            }
        });
        rx
    }
}
