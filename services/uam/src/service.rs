//! The business logic of uam: accounts, logins with throttling, sessions (refresh-token
//! families), TOTP and user administration. It speaks domain types only (no prost, no
//! tonic) and takes "now" from the injected clock.

mod accounts;
pub mod hasher;
pub mod keys;
mod limiter;
mod revocations;
mod sessions;
mod totp;
mod users;

pub use accounts::create_user_with;
pub use keys::{PublicKey, SigningKeys};
pub use users::UserPage;

use crate::config::Config;
use crate::domain::net::{IpNet, client_ip};
use crate::error::UamError;
use crate::store::{Store, UserRecord};
use hasher::Hasher;
use limiter::IpLimiter;
use lms_platform::clock::SharedClock;
use lms_platform::db::to_micros;
use std::net::IpAddr;
use std::time::Duration;

/// Access and refresh tokens handed to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// EdDSA JWT.
    pub access_token: String,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// What a correct password leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in.
    Tokens(Tokens),
    /// TOTP is on: finish with TotpLogin.
    Mfa {
        /// Single-use MFA token.
        mfa_token: String,
        /// Its lifetime in seconds.
        expires_in: i64,
    },
}

/// The uam service.
pub struct UamService {
    store: Store,
    hasher: Hasher,
    keys: SigningKeys,
    clock: SharedClock,
    limiter: IpLimiter,
    trusted_proxies: Vec<IpNet>,
    registration_open: bool,
    access_ttl: i64,
    refresh_ttl: i64,
    mfa_ttl: i64,
    /// Counts revocations; WatchRevokedSessions streams wake on each change.
    revocations: tokio::sync::watch::Sender<u64>,
}

impl UamService {
    /// Builds the service from its validated configuration.
    pub fn new(cfg: &Config, store: Store, keys: SigningKeys, clock: SharedClock) -> Self {
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        Self {
            store,
            hasher: Hasher::new(
                cfg.hash_concurrency,
                Duration::from_millis(cfg.hash_wait_ms),
            ),
            keys,
            clock,
            limiter: IpLimiter::new(cfg.ip_attempts_per_minute, cfg.ip_attempts_burst),
            trusted_proxies: cfg
                .trusted_proxies
                .iter()
                .filter_map(|p| IpNet::parse(p))
                .collect(),
            registration_open: cfg.registration_open,
            access_ttl: secs(cfg.access_token_ttl_secs),
            refresh_ttl: secs(cfg.refresh_token_ttl_secs),
            mfa_ttl: secs(cfg.mfa_token_ttl_secs).min(300),
            revocations: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The client address of a call: the first `x-forwarded-for` entry when the TCP peer
    /// is a trusted proxy, else the peer (unspecified when unknown).
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> IpAddr {
        let peer = peer.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        client_ip(peer, forwarded_for, &self.trusted_proxies)
    }

    /// The public keys that verify access tokens.
    pub fn signing_keys(&self) -> Vec<PublicKey> {
        vec![self.keys.public().clone()]
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    fn now_us(&self) -> i64 {
        to_micros(self.now())
    }

    /// Computes the dummy hash of unknown-user logins ahead of the first one, so even
    /// that one takes no longer than a real verification.
    pub async fn warm_up(&self) {
        if let Err(e) = self.hasher.verify_dummy(String::new()).await {
            tracing::warn!(error = %e, "password hasher warm-up failed");
        }
    }

    /// The caller's account for an account-changing call: it must exist and be enabled,
    /// and the access token's session must not be revoked (logout, password change or
    /// reuse detection end it at once here, not only when the access token expires).
    async fn caller_in_live_session(
        &self,
        who: &lms_platform::auth::UserPrincipal,
    ) -> Result<UserRecord, UamError> {
        let rec = self.active_user(&who.user_id).await?;
        if !self
            .store
            .session_live(&who.session_id, &who.user_id)
            .await?
        {
            return Err(UamError::AccountUnavailable);
        }
        Ok(rec)
    }

    /// The caller's own account, when it still exists and is enabled.
    async fn active_user(&self, user_id: &str) -> Result<UserRecord, UamError> {
        match self.store.user_by_id(user_id).await? {
            Some(rec) if rec.user.enabled => Ok(rec),
            _ => Err(UamError::AccountUnavailable),
        }
    }
}
