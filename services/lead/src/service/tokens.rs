//! Form-token verification, done here rather than by a call to config per submission:
//! the verification keys and the token lifetime are fetched from config
//! (`ProductService.GetFormVerificationKeys`, mesh services only) at first use and kept
//! in memory; tokens are then checked locally with `lms-formtoken` (constant-time MAC,
//! issue time at most 300 s ahead, lifetime).
//!
//! The keys are fetched again, one fetch at a time:
//! * when a well-shaped token names a key id we do not hold (config rotated its keys),
//!   at most once per `form_keys_refetch_ms`, so made-up key ids cannot hammer config;
//!   within that interval an unknown key id is refused like any bad token, or answered
//!   UNAVAILABLE when the last fetch failed;
//! * when the keys are older than `form_keys_max_age_secs` (so a key config dropped stops
//!   verifying); if that fetch fails, the keys held go on verifying.
//!
//! With no keys at all, or an unknown key id while config cannot be reached, the
//! submission fails closed with UNAVAILABLE.

use crate::error::LeadError;
use crate::peers::{FormKeySet, Peers};
use chrono::{DateTime, Utc};
use lms_formtoken::{TokenError, VerifiedToken};
use lms_platform::ApiError;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// Keys fetched from config, and when.
struct Held {
    set: FormKeySet,
    fetched_at: Instant,
}

/// When the last fetch was tried, and whether it worked.
type LastFetch = Option<(Instant, bool)>;

/// The verification keys, cached.
pub struct FormKeyCache {
    current: RwLock<Option<Arc<Held>>>,
    /// Held while fetching (one fetch at a time).
    fetch: tokio::sync::Mutex<LastFetch>,
    refetch_interval: Duration,
    max_age: Duration,
}

fn config_unavailable() -> LeadError {
    LeadError::Upstream(ApiError::unavailable(
        "the config service is unavailable; retry",
    ))
}

impl FormKeyCache {
    /// An empty cache: refetch at most once per `refetch_interval`; keys older than
    /// `max_age` are refreshed on use.
    pub fn new(refetch_interval: Duration, max_age: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(None),
            refetch_interval,
            max_age,
        }
    }

    /// Verifies a form token at `now`: INVALID_FORM_SIGNATURE for any defect (shape,
    /// unknown key, MAC, issue time in the future), FORM_SIGNATURE_EXPIRED when too old,
    /// UNAVAILABLE when the keys cannot be had from config.
    pub async fn verify(
        &self,
        peers: &Peers,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, LeadError> {
        let Some(kid) = lms_formtoken::token_kid(token) else {
            tracing::debug!("form token refused: malformed");
            return Err(LeadError::InvalidFormSignature);
        };
        let held = self.keys_for(peers, kid).await?;
        held.set
            .keys
            .verify(token, now, held.set.ttl_secs)
            .map_err(|e| {
                tracing::debug!(reason = %e, "form token refused");
                match e {
                    TokenError::Invalid => LeadError::InvalidFormSignature,
                    TokenError::Expired => LeadError::FormSignatureExpired,
                }
            })
    }

    fn current(&self) -> Option<Arc<Held>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// True when the last attempt lies within the refetch interval.
    fn recently(&self, last: LastFetch) -> Option<bool> {
        last.filter(|(at, _)| at.elapsed() < self.refetch_interval)
            .map(|(_, ok)| ok)
    }

    /// The keys to check a token naming `kid` with (see the module docs).
    async fn keys_for(&self, peers: &Peers, kid: &str) -> Result<Arc<Held>, LeadError> {
        if let Some(held) = self.current()
            && held.set.keys.contains(kid)
        {
            if held.fetched_at.elapsed() < self.max_age {
                return Ok(held);
            }
            // Too old: whoever gets the lock refreshes; everyone else, and that caller
            // when config fails, goes on with the keys held.
            let Ok(mut last) = self.fetch.try_lock() else {
                return Ok(held);
            };
            if self.recently(*last).is_none() {
                let _ = self.fetch_now(peers, &mut last).await;
            }
            return Ok(self.current().unwrap_or(held));
        }
        // An unknown key id, or no keys yet.
        let mut last = self.fetch.lock().await;
        let current = self.current();
        if let Some(held) = &current
            && held.set.keys.contains(kid)
        {
            // Fetched while we waited.
            return Ok(held.clone());
        }
        match (current, self.recently(*last)) {
            // Fetched a moment ago and the id was not there: it is unknown.
            (Some(held), Some(true)) => Ok(held),
            // Config failed a moment ago: do not ask again yet, and trust nothing.
            (_, Some(false)) => Err(config_unavailable()),
            _ => self.fetch_now(peers, &mut last).await,
        }
    }

    async fn fetch_now(&self, peers: &Peers, last: &mut LastFetch) -> Result<Arc<Held>, LeadError> {
        let res = peers.form_keys().await;
        *last = Some((Instant::now(), res.is_ok()));
        let set = res.inspect_err(|e| {
            tracing::warn!(error = %e, "form verification keys unavailable");
        })?;
        tracing::info!(
            keys = set.keys.keys().len(),
            "form verification keys fetched"
        );
        let held = Arc::new(Held {
            set,
            fetched_at: Instant::now(),
        });
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(held.clone());
        Ok(held)
    }
}
