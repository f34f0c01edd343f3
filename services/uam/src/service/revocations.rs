//! The feed of revoked sessions behind `AuthService.WatchRevokedSessions`. Access tokens
//! are verified locally by every service, so a revoked session's tokens would stay good
//! until they expire; services subscribe to this feed and refuse them at once.
//!
//! Each subscriber gets its own task: it reads the sessions revoked within the
//! access-token lifetime, sends them, then waits for a local revocation (a watch channel
//! bumped after every commit that revoked something) or a short poll (revocations made
//! by another uam replica) and sends what is new. Every read covers the whole horizon
//! (rarely more than a few hundred rows, by an index), so a revocation stamped before a
//! slow commit, or by a replica whose clock lags, is never missed; what was already sent
//! is remembered, so nothing is sent twice.

use super::UamService;
use crate::error::UamError;
use crate::store::SessionRow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a subscriber's task reads even without a local revocation.
const POLL: Duration = Duration::from_secs(2);

impl UamService {
    /// Tells the revocation feed that `n` sessions were revoked (call after commit).
    pub(super) fn sessions_revoked(&self, n: u64) {
        if n > 0 {
            self.revocations.send_modify(|c| *c = c.wrapping_add(1));
        }
    }

    /// Sessions revoked within the access-token lifetime plus the verifiers' leeway: every
    /// access token of a session revoked before that has expired anyway.
    pub async fn revoked_sessions(&self) -> Result<Vec<SessionRow>, UamError> {
        let leeway = i64::try_from(lms_platform::auth::LEEWAY_SECS).unwrap_or(0);
        let horizon = self.now_us() - (self.access_ttl + leeway) * 1_000_000;
        Ok(self.store.revoked_since(horizon).await?)
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
            loop {
                changes.borrow_and_update();
                let rows = match svc.revoked_sessions().await {
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
                // What fell out of the horizon cannot come back.
                sent = within;
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
