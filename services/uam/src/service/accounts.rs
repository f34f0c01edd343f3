//! Registration, password login with per-account and per-IP throttling, and password
//! change.

use super::hasher::{Hasher, needs_rehash};
use super::{LoginOutcome, UamService};
use crate::domain::password;
use crate::domain::user::{self, NewUser, User};
use crate::error::UamError;
use crate::store::{Store, UserRecord};
use lms_platform::auth::{Principal, UserPrincipal};
use lms_platform::clock::Clock;
use lms_platform::db::{Db, from_micros, to_micros};
use std::net::IpAddr;

/// Longest username-or-e-mail a login accepts.
const MAX_LOGIN_BYTES: usize = 254;

/// Validates, hashes and stores a new account (no caller check: Register checks the
/// caller first, `lms admin create-user` is trusted).
pub async fn create_user_with(
    store: &Store,
    hasher: &Hasher,
    clock: &dyn Clock,
    input: NewUser,
) -> Result<User, UamError> {
    let violations = user::validate(&input);
    if !violations.is_empty() {
        return Err(UamError::invalid(violations));
    }
    let email = user::normalize_email(&input.email).map_err(|e| UamError::field("email", e))?;
    if store.username_taken(&input.username).await? {
        return Err(UamError::UsernameTaken);
    }
    if store.email_taken(&email).await? {
        return Err(UamError::EmailTaken);
    }
    let hash = hasher.hash(input.password).await?;
    // Stored with microsecond precision: answer what a later read returns.
    let now = from_micros(to_micros(clock.now()));
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: input.username,
        email,
        first_name: input.first_name,
        last_name: input.last_name,
        enabled: true,
        roles: user::normalize_roles(&input.roles),
        totp_enabled: false,
        created_at: now,
        updated_at: now,
    };
    match store.insert_user(&user, &hash).await {
        Ok(()) => Ok(user),
        // Lost a race with a concurrent registration of the same name or address.
        Err(e) if Db::is_unique_violation(&e) => {
            if store.username_taken(&user.username).await? {
                Err(UamError::UsernameTaken)
            } else {
                Err(UamError::EmailTaken)
            }
        }
        Err(e) => Err(e.into()),
    }
}

impl UamService {
    /// Register: open registration creates AGENTs; an ADMIN caller may always register
    /// and choose the roles.
    #[tracing::instrument(skip_all, fields(admin = caller.is_admin()))]
    pub async fn register(&self, caller: &Principal, mut input: NewUser) -> Result<User, UamError> {
        let admin = caller.is_admin();
        if !admin && !self.registration_open {
            return Err(UamError::RegistrationClosed);
        }
        if !admin {
            input.roles.clear();
        }
        let user = create_user_with(&self.store, &self.hasher, self.clock.as_ref(), input).await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// Password login. Unknown user, wrong password, disabled and throttled accounts all
    /// give INVALID_CREDENTIALS after the same amount of hashing work.
    #[tracing::instrument(skip_all, fields(%ip))]
    pub async fn login(
        &self,
        ip: IpAddr,
        login: &str,
        password: &str,
    ) -> Result<LoginOutcome, UamError> {
        self.limiter.check(ip)?;
        if login.is_empty() || login.len() > MAX_LOGIN_BYTES {
            return Err(UamError::field(
                "usernameOrEmail",
                format!("is required and at most {MAX_LOGIN_BYTES} characters"),
            ));
        }
        if password.is_empty() {
            return Err(UamError::field("password", "is required"));
        }
        password::check_max(password).map_err(|e| UamError::field("password", e))?;
        let Some(rec) = self.store.user_by_login(login).await? else {
            self.hasher.verify_dummy(password.to_string()).await?;
            return Err(UamError::InvalidCredentials);
        };
        self.check_password(&rec, password).await?;
        if !rec.user.enabled {
            tracing::info!(user_id = %rec.user.id, "login to a disabled account");
            return Err(UamError::InvalidCredentials);
        }
        tracing::info!(user_id = %rec.user.id, mfa = rec.user.totp_enabled, "password accepted");
        if rec.user.totp_enabled {
            let (mfa_token, expires_in) = self.issue_mfa_token(&rec.user)?;
            return Ok(LoginOutcome::Mfa {
                mfa_token,
                expires_in,
            });
        }
        Ok(LoginOutcome::Tokens(self.issue_session(&rec.user).await?))
    }

    /// Checks a password against an account with its throttle: a locked account is
    /// refused without checking (after a dummy hash), a failure is counted, a success
    /// resets the count and upgrades a weak hash.
    async fn check_password(&self, rec: &UserRecord, password: &str) -> Result<(), UamError> {
        let id = &rec.user.id;
        if rec.login.is_locked(self.now_us()) {
            self.hasher.verify_dummy(password.to_string()).await?;
            tracing::info!(user_id = %id, "login refused: account throttled");
            return Err(UamError::InvalidCredentials);
        }
        let ok = self
            .hasher
            .verify(password.to_string(), rec.password_hash.clone())
            .await?;
        let mut tx = self.store.begin().await?;
        let Some(fresh) = self.store.lock_user(&mut tx, id).await? else {
            return Err(UamError::InvalidCredentials);
        };
        let now = self.now_us();
        if !ok {
            let next = fresh.login.after_failure(now);
            self.store.save_login_throttle(&mut tx, id, &next).await?;
            tx.commit().await?;
            tracing::info!(user_id = %id, failures = next.failures, "wrong password");
            return Err(UamError::InvalidCredentials);
        }
        let cleared = fresh.login.after_success();
        if cleared != fresh.login {
            self.store
                .save_login_throttle(&mut tx, id, &cleared)
                .await?;
        }
        tx.commit().await?;
        if needs_rehash(&rec.password_hash) {
            let hash = self.hasher.hash(password.to_string()).await?;
            let mut tx = self.store.begin().await?;
            self.store
                .set_password_hash(&mut tx, id, &hash, now)
                .await?;
            tx.commit().await?;
            tracing::info!(user_id = %id, "password hash upgraded to policy parameters");
        }
        Ok(())
    }

    /// Changes the caller's password and revokes every other session of the user: all
    /// but the family of `refresh_token` (when it is the caller's) or of the access
    /// token's `sid`.
    #[tracing::instrument(skip_all, fields(user_id = %who.user_id))]
    pub async fn change_password(
        &self,
        who: &UserPrincipal,
        current: &str,
        new: &str,
        refresh_token: &str,
    ) -> Result<i32, UamError> {
        if current.is_empty() {
            return Err(UamError::field("currentPassword", "is required"));
        }
        password::check_max(current).map_err(|e| UamError::field("currentPassword", e))?;
        password::check_new(new)
            .map_err(|e| UamError::invalid(vec![lms_platform::Violation::new("newPassword", e)]))?;
        let rec = self.caller_in_live_session(who).await?;
        match self.check_password(&rec, current).await {
            Ok(()) => {}
            Err(UamError::InvalidCredentials) => return Err(UamError::InvalidCurrentPassword),
            Err(e) => return Err(e),
        }
        let hash = self.hasher.hash(new.to_string()).await?;
        let keep = match self.session_of(refresh_token, &who.user_id).await? {
            Some(id) => Some(id),
            None if !who.session_id.is_empty() => Some(who.session_id.clone()),
            None => None,
        };
        let now = to_micros(self.now());
        let mut tx = self.store.begin().await?;
        self.store
            .set_password_hash(&mut tx, &who.user_id, &hash, now)
            .await?;
        let revoked = self
            .store
            .revoke_user_sessions(
                &mut tx,
                &who.user_id,
                keep.as_deref(),
                "password_changed",
                now,
            )
            .await?;
        tx.commit().await?;
        self.sessions_revoked(revoked);
        tracing::info!(revoked, "password changed");
        Ok(i32::try_from(revoked).unwrap_or(i32::MAX))
    }
}
