//! The feed of revoked sessions behind `AuthService.WatchRevokedSessions`. Access tokens
//! are verified locally by every service, so a revoked session's tokens would stay good
//! until they expire; services subscribe to this feed and refuse them at once.
//!
//! Each subscriber gets its own task: it reads the sessions revoked within the
//! access-token lifetime, sends them, then waits for a local revocation (a watch channel
//! bumped after every commit that revoked something) or a short poll (revocations made
//! by another uam replica) and sends what is new. Reads cover the last [`TRAILING`]
//! (a revocation is stamped before its transaction commits, so a read must reach back
//! over slow commits), and every [`FULL_SWEEP_EVERY`]th read the whole horizon, so even
//! a revocation stamped by a replica whose clock lags further is delivered within about
//! half a minute. What was already sent is remembered, so nothing is sent twice.

use super::UamService;
use crate::error::UamError;
use crate::store::SessionRow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a subscriber's task reads even without a local revocation.
const POLL: Duration = Duration::from_secs(2);
/// How far back an ordinary read reaches.
const TRAILING: Duration = Duration::from_secs(60);
/// Every this many reads, a subscriber reads the whole horizon.
const FULL_SWEEP_EVERY: u64 = 15;

impl UamService {
    /// Tells the revocation feed that `n` sessions were revoked (call after commit).
    pub(super) fn sessions_revoked(&self, n: u64) {
        if n > 0 {
            self.revocations.send_modify(|c| *c = c.wrapping_add(1));
        }
    }

    /// Sessions revoked within the access-token lifetime plus the verifiers' leeway (every
    /// access token of a session revoked before that has expired anyway), or, unless
    /// `full`, within the last [`TRAILING`] only.
    pub async fn revoked_sessions(&self, full: bool) -> Result<Vec<SessionRow>, UamError> {
        let leeway = i64::try_from(lms_platform::auth::LEEWAY_SECS).unwrap_or(0);
        let now = self.now_us();
        let horizon = now - (self.access_ttl + leeway) * 1_000_000;
        let since = if full {
            horizon
        } else {
            let trailing = i64::try_from(TRAILING.as_micros()).unwrap_or(i64::MAX);
            horizon.max(now.saturating_sub(trailing))
        };
        Ok(self.store.revoked_since(since).await?)
    }

    /// A subscriber's feed: first every recently revoked session (possibly none), then
    /// batches of newly revoked ones. Ends when the receiver is dropped or the database
    /// fails (the error is the last item).
    pub fn revocation_feed(self: &Arc<Self>) -> mpsc::Receiver<Result<Vec<SessionRow>, UamError>> {
        let (tx, rx) = mpsc::channel(4);
        let svc = self.clone();
        tokio::spawn(async move {
            let mut changes = svc.revocations.subscribe();
            // Sessions already sent that are still within the horizon.
            let mut sent: HashSet<String> = HashSet::new();
            let mut first = true;
            let mut reads: u64 = 0;
            loop {
                changes.borrow_and_update();
                let full = reads.is_multiple_of(FULL_SWEEP_EVERY);
                reads = reads.wrapping_add(1);
                let rows = match svc.revoked_sessions(full).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let mut within = HashSet::with_capacity(rows.len());
                let mut fresh = Vec::new();
                for r in rows {
                    within.insert(r.id.clone());
                    if !sent.contains(&r.id) {
                        fresh.push(r);
                    }
                }
                if full {
                    // What fell out of the horizon cannot come back.
                    sent = within;
                } else {
                    sent.extend(within);
                }
                if (first || !fresh.is_empty()) && tx.send(Ok(fresh)).await.is_err() {
                    return;
                }
                first = false;
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    () = tokio::time::sleep(POLL) => {}
                    () = tx.closed() => return,
                }
            }
        });
        rx
    }
}
