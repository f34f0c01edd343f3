//! Sessions: access tokens, refresh-token families with rotation and reuse detection,
//! MFA tokens, logout.
//!
//! Rotation has two steps, so that a replay and a race can be told apart on both
//! backends (PostgreSQL read committed; SQLite, whose writers `BEGIN IMMEDIATE` serialises):
//!
//! 1. Read the token's committed state outside any transaction. What this first read
//!    saw classifies the request. A token that was ALREADY retired then is a replay
//!    (security.md case 3(a)): the whole family is revoked (`REFRESH_TOKEN_REUSED`).
//! 2. For a token that was live, one write transaction locks the owner, re-checks the
//!    family and retires the token with a compare-and-set (`used_at IS NULL`), then adds
//!    its successor. A compare-and-set that finds the token consumed means a concurrent
//!    request rotated it after our first read: this request lost a race (case 3(b)). It
//!    fails with UNAUTHENTICATED `REFRESH_TOKEN_RACE` and revokes nothing, so of N
//!    parallel refreshes exactly one succeeds and its successor stays live.
//!
//! The loser's status is deliberately not a retryable one (ABORTED): retrying with the
//! same token after the winner committed is, by definition, a replay and would revoke
//! the family. The client must use the successor its winning request received. There is
//! no grace period (0 s): no time window in which a retired token is accepted.

use super::{Tokens, UamService};
use crate::domain::User;
use crate::error::UamError;
use crate::store::SessionRow;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lms_platform::auth::{AUDIENCE, Claims, ISSUER, TYP_ACCESS, TYP_MFA};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Longest refresh token we bother to look up (ours are 43 characters).
const MAX_REFRESH_TOKEN_LEN: usize = 128;

/// A new opaque refresh token: 32 random bytes, base64url without padding.
fn new_refresh_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The stored form of a refresh token.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl UamService {
    fn claims(&self, user: &User, typ: &str, sid: &str, ttl: i64) -> Claims {
        let iat = self.now().timestamp();
        Claims {
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            sub: user.id.clone(),
            name: user.username.clone(),
            roles: user.roles.clone(),
            typ: typ.to_string(),
            sid: sid.to_string(),
            jti: new_jti(),
            iat,
            nbf: iat,
            exp: iat + ttl,
        }
    }

    /// Signs a pending-MFA token for a user whose password was right.
    pub(super) fn issue_mfa_token(&self, user: &User) -> Result<(String, i64), UamError> {
        let claims = self.claims(user, TYP_MFA, "", self.mfa_ttl);
        Ok((self.keys.sign(&claims)?, self.mfa_ttl))
    }

    /// Starts a new family for a signed-in user and returns its first tokens.
    pub(super) async fn issue_session(&self, user: &User) -> Result<Tokens, UamError> {
        let now = self.now_us();
        let session = SessionRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id.clone(),
            expires_at: now + self.refresh_ttl * 1_000_000,
            revoked_at: None,
        };
        let refresh_token = new_refresh_token();
        let mut tx = self.store.begin().await?;
        self.store
            .insert_session(&mut tx, &session, &token_hash(&refresh_token), now)
            .await?;
        tx.commit().await?;
        let access_token =
            self.keys
                .sign(&self.claims(user, TYP_ACCESS, &session.id, self.access_ttl))?;
        Ok(Tokens {
            access_token,
            refresh_token,
            expires_in: self.access_ttl,
        })
    }

    /// Rotates a refresh token (see the module header for the replay/race split).
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, UamError> {
        if refresh_token.is_empty() {
            return Err(UamError::field("refreshToken", "is required"));
        }
        if refresh_token.len() > MAX_REFRESH_TOKEN_LEN {
            return Err(UamError::InvalidRefreshToken);
        }
        let hash = token_hash(refresh_token);
        let now = self.now_us();
        // Step 1: the first read, outside any transaction, classifies the request.
        let Some(seen) = self.store.peek_refresh_token(&hash).await? else {
            return Err(UamError::InvalidRefreshToken);
        };
        let session = seen.session;
        if session.revoked_at.is_some() {
            return Err(UamError::InvalidRefreshToken);
        }
        if seen.used_at.is_some() {
            // Retired before this request arrived: a replay. Revoke the whole family.
            let mut tx = self.store.begin().await?;
            let n = self
                .store
                .revoke_session(&mut tx, &session.id, "refresh_token_reused", now)
                .await?;
            tx.commit().await?;
            self.sessions_revoked(n);
            tracing::warn!(session_id = %session.id, user_id = %session.user_id,
                "retired refresh token presented; session revoked");
            return Err(UamError::RefreshTokenReused);
        }
        let mut tx = self.store.begin().await?;
        if now >= session.expires_at {
            self.store
                .revoke_session(&mut tx, &session.id, "expired", now)
                .await?;
            tx.commit().await?;
            return Err(UamError::RefreshTokenExpired);
        }
        // Step 2: the token was live. Lock the owner first (the order ChangePassword and
        // UpdateUser use: user, then sessions), so rotations of one user queue here on
        // PostgreSQL and a concurrent revocation is seen below.
        let user = match self.store.lock_user(&mut tx, &session.user_id).await? {
            Some(rec) if rec.user.enabled => rec.user,
            _ => {
                let n = self
                    .store
                    .revoke_session(&mut tx, &session.id, "account_disabled", now)
                    .await?;
                tx.commit().await?;
                self.sessions_revoked(n);
                return Err(UamError::InvalidRefreshToken);
            }
        };
        // The family may have been revoked since the first read.
        match self.store.find_refresh_token(&mut tx, &hash).await? {
            Some(current) if current.session.revoked_at.is_none() => {}
            _ => return Err(UamError::InvalidRefreshToken),
        }
        if !self.store.retire_refresh_token(&mut tx, &hash, now).await? {
            // Live at our first read, consumed now: a concurrent refresh won. Nothing is
            // revoked; dropping the transaction rolls it back.
            tracing::info!(session_id = %session.id, "lost a refresh race");
            return Err(UamError::RefreshTokenRace);
        }
        let successor = new_refresh_token();
        self.store
            .insert_refresh_token(&mut tx, &session.id, &token_hash(&successor), now)
            .await?;
        tx.commit().await?;
        let access_token =
            self.keys
                .sign(&self.claims(&user, TYP_ACCESS, &session.id, self.access_ttl))?;
        Ok(Tokens {
            access_token,
            refresh_token: successor,
            expires_in: self.access_ttl,
        })
    }

    /// The family id of a refresh token when it belongs to `user_id` and is live.
    pub(super) async fn session_of(
        &self,
        refresh_token: &str,
        user_id: &str,
    ) -> Result<Option<String>, UamError> {
        if refresh_token.is_empty() || refresh_token.len() > MAX_REFRESH_TOKEN_LEN {
            return Ok(None);
        }
        let mut tx = self.store.begin().await?;
        let found = self
            .store
            .find_refresh_token(&mut tx, &token_hash(refresh_token))
            .await?;
        tx.commit().await?;
        Ok(found
            .filter(|f| f.session.user_id == user_id && f.session.revoked_at.is_none())
            .map(|f| f.session.id))
    }

    /// Revokes the family of `refresh_token` (which must be the caller's), or every
    /// family of the caller when it is empty; returns how many were revoked.
    #[tracing::instrument(skip_all, fields(user_id = %who.user_id))]
    pub async fn logout(
        &self,
        who: &lms_platform::auth::UserPrincipal,
        refresh_token: &str,
    ) -> Result<i32, UamError> {
        let now = self.now_us();
        let mut tx = self.store.begin().await?;
        let revoked = if refresh_token.is_empty() {
            self.store
                .revoke_user_sessions(&mut tx, &who.user_id, None, "logout", now)
                .await?
        } else {
            if refresh_token.len() > MAX_REFRESH_TOKEN_LEN {
                return Err(UamError::InvalidRefreshToken);
            }
            match self
                .store
                .find_refresh_token(&mut tx, &token_hash(refresh_token))
                .await?
            {
                Some(f) if f.session.user_id == who.user_id => {
                    self.store
                        .revoke_session(&mut tx, &f.session.id, "logout", now)
                        .await?
                }
                _ => return Err(UamError::InvalidRefreshToken),
            }
        };
        tx.commit().await?;
        self.sessions_revoked(revoked);
        tracing::info!(revoked, "logged out");
        Ok(i32::try_from(revoked).unwrap_or(i32::MAX))
    }
}
