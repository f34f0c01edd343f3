//! `lms admin ...`: operator commands that act on a service's database directly, such as
//! creating the first administrator before any account exists.

use crate::mesh::{Part, connect_db, open_db};
use crate::settings::LmsConfig;
use lms_platform::auth::Role;

/// Input of `lms admin create-user`.
#[derive(Debug, Clone)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Password (from stdin or `LMS_ADMIN_PASSWORD`).
    pub password: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// Creates a user in uam's database with uam's own validation and hashing; returns the
/// new user's id.
pub async fn create_user(cfg: &LmsConfig, input: CreateUser) -> anyhow::Result<String> {
    let db = open_db(cfg, Part::Uam).await?;
    let clock = lms_platform::SystemClock;
    let user = lms_uam::create_user(
        &db,
        &clock,
        lms_uam::NewUser {
            username: input.username,
            email: input.email,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
            roles: input.roles,
        },
    )
    .await
    .map_err(|e| {
        let details: Vec<String> = e
            .violations
            .iter()
            .map(|v| format!("  {}: {}", v.field, v.description))
            .collect();
        anyhow::anyhow!("{} ({})\n{}", e.message, e.reason, details.join("\n"))
    })?;
    Ok(user.id)
}

/// True when uam's (already migrated) database holds an enabled administrator.
pub async fn has_admin(cfg: &LmsConfig) -> anyhow::Result<bool> {
    let db = connect_db(cfg, Part::Uam).await?;
    let found = lms_uam::has_admin(&db).await;
    db.pool.close().await;
    found
}
