//! Reading and administering accounts.

use super::UamService;
use crate::domain::User;
use crate::domain::user::normalize_roles;
use crate::error::UamError;
use crate::store::ListFilter;
use lms_platform::auth::{Principal, Role, UserPrincipal};
use lms_platform::db::to_micros;
use lms_platform::paging;
use serde::{Deserialize, Serialize};

/// One page of ListUsers.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The users.
    pub users: Vec<User>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
    /// Users matching the filter.
    pub total_size: i64,
}

/// Keyset cursor inside a ListUsers page token.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    /// `created_at` (µs) of the last user of the page.
    t: i64,
    /// Its id.
    id: String,
}

fn check_id(id: &str) -> Result<(), UamError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| UamError::field("id", "is not a valid user id"))
}

impl UamService {
    /// The caller's own account.
    pub async fn current_user(&self, who: &UserPrincipal) -> Result<User, UamError> {
        Ok(self.active_user(&who.user_id).await?.user)
    }

    /// One account by id.
    pub async fn get_user(&self, id: &str) -> Result<User, UamError> {
        check_id(id)?;
        self.store
            .user_by_id(id)
            .await?
            .map(|r| r.user)
            .ok_or(UamError::UserNotFound)
    }

    /// A page of accounts in creation order. `page_token` (keyset) wins over
    /// `page_number` (offset).
    pub async fn list_users(
        &self,
        role: Option<Role>,
        enabled_only: bool,
        page_size: i32,
        page_token: &str,
        page_number: i32,
    ) -> Result<UserPage, UamError> {
        let size = paging::page_size(page_size, 20, "pageSize").map_err(api_to_invalid)?;
        if page_number < 0 {
            return Err(UamError::field("pageNumber", "must not be negative"));
        }
        let after = if page_token.is_empty() {
            None
        } else {
            let c: Cursor =
                paging::decode_token(page_token, "pageToken").map_err(api_to_invalid)?;
            Some((c.t, c.id))
        };
        let filter = ListFilter {
            role,
            enabled_only,
            offset: i64::from(page_number) * size,
            after,
            limit: size + 1,
        };
        let (mut users, total_size) = self.store.list_users(&filter).await?;
        let more = i64::try_from(users.len()).unwrap_or(i64::MAX) > size;
        users.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        let next_page_token = match users.last() {
            Some(last) if more => paging::encode_token(&Cursor {
                t: to_micros(last.created_at),
                id: last.id.clone(),
            }),
            _ => String::new(),
        };
        Ok(UserPage {
            users,
            next_page_token,
            total_size,
        })
    }

    /// Changes roles and/or the enabled flag. Disabling the user or changing their roles
    /// revokes every session: the roles are in the access tokens, which the services
    /// then refuse at once, and the next sign-in carries the new roles.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_user(
        &self,
        caller: &Principal,
        id: &str,
        roles: Option<Vec<Role>>,
        enabled: Option<bool>,
    ) -> Result<User, UamError> {
        check_id(id)?;
        let roles = roles.map(|r| normalize_roles(&r));
        if let Some(me) = caller.as_user().filter(|u| u.user_id == id) {
            let drops_admin =
                roles.as_ref().is_some_and(|r| !r.contains(&Role::Admin)) && me.has(Role::Admin);
            if enabled == Some(false) || drops_admin {
                return Err(UamError::SelfLockout);
            }
        }
        let now = self.now_us();
        let mut tx = self.store.begin().await?;
        let Some(current) = self.store.lock_user(&mut tx, id).await? else {
            return Err(UamError::UserNotFound);
        };
        self.store
            .update_admin_fields(&mut tx, id, roles.as_deref(), enabled, now)
            .await?;
        let roles_changed = roles.as_ref().is_some_and(|r| {
            let mut old = current.user.roles.clone();
            let mut new = r.clone();
            old.sort_by_key(|x| x.as_str());
            new.sort_by_key(|x| x.as_str());
            old != new
        });
        let reason = if enabled == Some(false) {
            Some("account_disabled")
        } else if roles_changed {
            Some("roles_changed")
        } else {
            None
        };
        let mut revoked = 0;
        if let Some(reason) = reason {
            revoked = self
                .store
                .revoke_user_sessions(&mut tx, id, None, reason, now)
                .await?;
            tracing::info!(revoked, reason, "sessions revoked");
        }
        tx.commit().await?;
        self.sessions_revoked(revoked);
        self.get_user(id).await
    }
}

fn api_to_invalid(e: lms_platform::ApiError) -> UamError {
    UamError::Invalid {
        reason: "INVALID_ARGUMENT",
        violations: e.violations,
    }
}
