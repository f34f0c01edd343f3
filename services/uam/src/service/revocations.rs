//! The feed of revoked sessions behind `AuthService.WatchRevokedSessions`. Access tokens
//! are verified locally by every service, so a revoked session's tokens would stay good
//! until they expire; services subscribe to this feed and refuse them at once.
//!
//! Each subscriber gets its own task: it reads the sessions revoked within the
//! access-token lifetime, sends them, then waits for a local revocation (a watch channel
//! bumped after every commit that revoked something) or a short poll (revocations made
//! by another uam replica) and sends what is new. Reads overlap by [`OVERLAP`], because
//! a revocation's time is taken before its transaction commits, and what was already
//! sent is remembered so nothing is sent twice.

use super::UamService;
use crate::error::UamError;
use crate::store::SessionRow;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How far back each read reaches before the newest revocation already seen.
const OVERLAP: Duration = Duration::from_secs(30);
/// How often a subscriber's task reads even without a local revocation.
const POLL: Duration = Duration::from_secs(2);

impl UamService {
    /// Tells the revocation feed that `n` sessions were revoked (call after commit).
    pub(super) fn sessions_revoked(&self, n: u64) {
        if n > 0 {
            self.revocations.send_modify(|c| *c = c.wrapping_add(1));
        }
    }

    /// Sessions revoked at or after `since`, but never earlier than the access-token
    /// lifetime plus the verifiers' leeway ago: every access token of a session revoked
    /// before that has expired anyway.
    pub async fn revoked_sessions(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<SessionRow>, UamError> {
        let leeway = i64::try_from(lms_platform::auth::LEEWAY_SECS).unwrap_or(0);
        let horizon = self.now_us() - (self.access_ttl + leeway) * 1_000_000;
        let since = since.map_or(horizon, |t| lms_platform::db::to_micros(t).max(horizon));
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
            let mut sent: HashMap<String, i64> = HashMap::new();
            let mut since: Option<DateTime<Utc>> = None;
            let mut first = true;
            loop {
                changes.borrow_and_update();
                let rows = match svc.revoked_sessions(since).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let newest = rows.iter().filter_map(|r| r.revoked_at).max();
                let fresh: Vec<SessionRow> = rows
                    .into_iter()
                    .filter(|r| !sent.contains_key(&r.id))
                    .collect();
                for r in &fresh {
                    sent.insert(r.id.clone(), r.revoked_at.unwrap_or_default());
                }
                if let Some(newest) = newest {
                    let overlap = i64::try_from(OVERLAP.as_micros()).unwrap_or(i64::MAX);
                    let from = newest.saturating_sub(overlap);
                    since = DateTime::from_timestamp_micros(from);
                    // What falls before the next read's start cannot come back.
                    sent.retain(|_, at| *at >= from);
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
