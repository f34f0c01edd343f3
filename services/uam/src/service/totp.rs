//! TOTP enrolment and the second login step.
//!
//! A code is checked inside a write transaction that locks the user's row: refused
//! while TOTP is locked (3 bad codes lock it until the next 30 s step), accepted for the
//! current or previous step only, and only for a step above `last_totp_step`, which is
//! then advanced with a compare-and-set. So a code is spent once, two concurrent logins
//! with the same code have exactly one winner, and the enrolment code cannot be replayed
//! as a login code. A reused code answers TOTP_CODE_REUSED (distinct from
//! INVALID_TOTP_CODE: the caller already proved possession of a valid code, so the
//! distinction leaks nothing useful; it is logged as a possible replay).

use super::{Tokens, UamService};
use crate::domain::User;
use crate::domain::totp::{self, SECRET_BYTES, STEP_SECS};
use crate::error::{CodeRefusal, UamError};
use crate::store::{Conn, UserRecord};
use lms_platform::auth::UserPrincipal;
use rand::RngCore;
use std::net::IpAddr;
use totp_rs::Secret;

fn decode_secret(b32: &str) -> Result<Vec<u8>, UamError> {
    Secret::Encoded(b32.to_string())
        .to_bytes()
        .map_err(|e| UamError::Internal(format!("stored TOTP secret does not decode: {e:?}")))
}

fn check_format(code: &str) -> Result<(), UamError> {
    if totp::well_formed(code) {
        Ok(())
    } else {
        Err(UamError::field("code", "must be exactly 6 digits"))
    }
}

impl UamService {
    /// Checks a code for `secret` against a locked user row and updates the counters.
    /// Returns the spent step, or why the code was refused (the counters are written
    /// either way; the caller commits).
    async fn check_code(
        &self,
        conn: &mut Conn,
        rec: &UserRecord,
        secret_b32: &str,
        code: &str,
    ) -> Result<Result<i64, CodeRefusal>, UamError> {
        let id = &rec.user.id;
        let now = self.now();
        let now_us = lms_platform::db::to_micros(now);
        if rec.totp_guard.is_locked(now_us) {
            tracing::info!(user_id = %id, "totp locked");
            return Ok(Err(CodeRefusal::Locked));
        }
        let generator = totp::generator(&decode_secret(secret_b32)?, &rec.user.username)
            .map_err(UamError::Internal)?;
        let current = totp::step_of(now.timestamp());
        match totp::matching_step(&generator, code, current) {
            Some(step) if step > rec.last_totp_step => {
                if !self.store.spend_totp_step(conn, id, step).await? {
                    tracing::warn!(user_id = %id, "totp code reused (lost a race)");
                    return Ok(Err(CodeRefusal::Reused));
                }
                let cleared = rec.totp_guard.after_success();
                if cleared != rec.totp_guard {
                    self.store.save_totp_guard(conn, id, &cleared).await?;
                }
                Ok(Ok(step))
            }
            Some(_) => {
                tracing::warn!(user_id = %id, "totp code reused");
                Ok(Err(CodeRefusal::Reused))
            }
            None => {
                let step_end = (current + 1) * STEP_SECS * 1_000_000;
                let f = rec.totp_guard.after_failure(now_us, step_end);
                self.store.save_totp_guard(conn, id, &f.guard).await?;
                if f.restart_login {
                    self.store.void_mfa_tokens(conn, id, now_us).await?;
                    tracing::warn!(user_id = %id, alert = true,
                        "daily TOTP failure cap reached; pending logins voided");
                }
                tracing::info!(user_id = %id, "bad totp code");
                Ok(Err(CodeRefusal::Invalid))
            }
        }
    }

    /// Starts enrolment: a new 160-bit secret, pending until EnableTotp.
    #[tracing::instrument(skip_all, fields(user_id = %who.user_id))]
    pub async fn setup_totp(&self, who: &UserPrincipal) -> Result<(String, String), UamError> {
        let rec = self.caller_in_live_session(who).await?;
        if rec.user.totp_enabled {
            return Err(UamError::TotpAlreadyEnabled);
        }
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let generator = totp::generator(&bytes, &rec.user.username).map_err(UamError::Internal)?;
        let secret = generator.get_secret_base32();
        let uri = generator.get_url();
        let mut tx = self.store.begin().await?;
        self.store
            .set_pending_totp(&mut tx, &rec.user.id, &secret, self.now_us())
            .await?;
        tx.commit().await?;
        Ok((secret, uri))
    }

    /// Confirms enrolment with a code for the pending secret; the code's step is spent.
    #[tracing::instrument(skip_all, fields(user_id = %who.user_id))]
    pub async fn enable_totp(&self, who: &UserPrincipal, code: &str) -> Result<User, UamError> {
        check_format(code)?;
        self.caller_in_live_session(who).await?;
        let mut tx = self.store.begin().await?;
        let rec = match self.store.lock_user(&mut tx, &who.user_id).await? {
            Some(r) if r.user.enabled => r,
            _ => return Err(UamError::AccountUnavailable),
        };
        if rec.user.totp_enabled {
            return Err(UamError::TotpAlreadyEnabled);
        }
        let Some(pending) = rec.totp_pending_secret.clone() else {
            return Err(UamError::TotpNotSetUp);
        };
        let verdict = self.check_code(&mut tx, &rec, &pending, code).await?;
        if verdict.is_ok() {
            self.store
                .set_totp(&mut tx, &rec.user.id, Some(&pending), self.now_us())
                .await?;
        }
        tx.commit().await?;
        verdict.map_err(UamError::Code)?;
        tracing::info!("totp enabled");
        Ok(self.active_user(&who.user_id).await?.user)
    }

    /// Turns TOTP off; needs a current code.
    #[tracing::instrument(skip_all, fields(user_id = %who.user_id))]
    pub async fn disable_totp(&self, who: &UserPrincipal, code: &str) -> Result<User, UamError> {
        check_format(code)?;
        self.caller_in_live_session(who).await?;
        let mut tx = self.store.begin().await?;
        let rec = match self.store.lock_user(&mut tx, &who.user_id).await? {
            Some(r) if r.user.enabled => r,
            _ => return Err(UamError::AccountUnavailable),
        };
        let Some(secret) = rec.totp_secret.clone().filter(|_| rec.user.totp_enabled) else {
            return Err(UamError::TotpNotEnabled);
        };
        let verdict = self.check_code(&mut tx, &rec, &secret, code).await?;
        if verdict.is_ok() {
            self.store
                .set_totp(&mut tx, &rec.user.id, None, self.now_us())
                .await?;
        }
        tx.commit().await?;
        verdict.map_err(UamError::Code)?;
        tracing::info!("totp disabled");
        Ok(self.active_user(&who.user_id).await?.user)
    }

    /// The second login step: a valid, unspent MFA token and a fresh code.
    #[tracing::instrument(skip_all, fields(%ip))]
    pub async fn totp_login(
        &self,
        ip: IpAddr,
        mfa_token: &str,
        code: &str,
    ) -> Result<Tokens, UamError> {
        self.limiter.check(ip)?;
        let claims = self.keys.verify_mfa(mfa_token, self.now())?;
        check_format(code)?;
        if self.store.mfa_token_spent(&claims.jti).await? {
            return Err(UamError::InvalidMfaToken);
        }
        let mut tx = self.store.begin().await?;
        let rec = match self.store.lock_user(&mut tx, &claims.sub).await? {
            Some(r) if r.user.enabled && r.user.totp_enabled => r,
            _ => return Err(UamError::InvalidMfaToken),
        };
        if claims.iat.saturating_mul(1_000_000) < rec.mfa_valid_after {
            return Err(UamError::InvalidMfaToken);
        }
        let Some(secret) = rec.totp_secret.clone() else {
            return Err(UamError::InvalidMfaToken);
        };
        match self.check_code(&mut tx, &rec, &secret, code).await? {
            Ok(_) => {
                let spent = self
                    .store
                    .spend_mfa_token(
                        &mut tx,
                        &claims.jti,
                        &rec.user.id,
                        claims.exp.saturating_mul(1_000_000),
                        self.now_us(),
                    )
                    .await?;
                if !spent {
                    // Rolls back the spent step too: the token was used concurrently.
                    return Err(UamError::InvalidMfaToken);
                }
                tx.commit().await?;
            }
            Err(refusal) => {
                tx.commit().await?;
                return Err(UamError::LoginCode(refusal));
            }
        }
        tracing::info!(user_id = %rec.user.id, "totp login");
        self.issue_session(&rec.user).await
    }
}
