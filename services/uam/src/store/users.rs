//! Accounts, their roles and their throttling counters.

use super::{Conn, Store};
use crate::domain::User;
use crate::domain::throttle::{LoginThrottle, TotpGuard};
use lms_platform::auth::Role;
use lms_platform::db::{from_micros, to_micros};
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, username, email, first_name, last_name, password_hash, enabled, \
    totp_secret, totp_pending_secret, totp_enabled, last_totp_step, totp_failures, \
    totp_locked_until, totp_day_start, totp_day_failures, mfa_valid_after, login_failures, \
    login_locked_until, login_hour_start, login_hour_failures, created_at, updated_at";

/// An account with its secrets and counters (never leaves the service layer).
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The public view.
    pub user: User,
    /// PHC string of the argon2 hash.
    pub password_hash: String,
    /// Active TOTP secret (base32).
    pub totp_secret: Option<String>,
    /// Secret waiting for EnableTotp (base32).
    pub totp_pending_secret: Option<String>,
    /// Highest spent TOTP step.
    pub last_totp_step: i64,
    /// TOTP guessing counters.
    pub totp_guard: TotpGuard,
    /// MFA tokens issued at or before this instant (µs) are void.
    pub mfa_valid_after: i64,
    /// Password guessing counters.
    pub login: LoginThrottle,
}

/// Filter and page of ListUsers.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only users holding this role.
    pub role: Option<Role>,
    /// Only enabled users.
    pub enabled_only: bool,
    /// Keyset cursor: `(created_at µs, id)` of the last row of the previous page.
    pub after: Option<(i64, String)>,
    /// Offset paging (used when there is no cursor).
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}

fn record(row: &AnyRow, roles: Vec<Role>) -> Result<UserRecord, sqlx::Error> {
    let user = User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        roles,
        totp_enabled: row.try_get::<i64, _>("totp_enabled")? != 0,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    };
    Ok(UserRecord {
        user,
        password_hash: row.try_get("password_hash")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_pending_secret: row.try_get("totp_pending_secret")?,
        last_totp_step: row.try_get("last_totp_step")?,
        totp_guard: TotpGuard {
            failures: row.try_get("totp_failures")?,
            locked_until: row.try_get("totp_locked_until")?,
            day_start: row.try_get("totp_day_start")?,
            day_failures: row.try_get("totp_day_failures")?,
        },
        mfa_valid_after: row.try_get("mfa_valid_after")?,
        login: LoginThrottle {
            failures: row.try_get("login_failures")?,
            locked_until: row.try_get("login_locked_until")?,
            hour_start: row.try_get("login_hour_start")?,
            hour_failures: row.try_get("login_hour_failures")?,
        },
    })
}

async fn roles_of(conn: &mut Conn, user_id: &str) -> Result<Vec<Role>, sqlx::Error> {
    let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut roles: Vec<Role> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("role").ok())
        .filter_map(|s| Role::parse(&s))
        .collect();
    roles.sort();
    Ok(roles)
}

async fn fetch_one_where(
    conn: &mut Conn,
    clause: &str,
    value: &str,
    suffix: &str,
) -> Result<Option<UserRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE {clause} = $1{suffix}");
    let Some(row) = sqlx::query(&sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let id: String = row.try_get("id")?;
    let roles = roles_of(conn, &id).await?;
    Ok(Some(record(&row, roles)?))
}

async fn write_roles(conn: &mut Conn, user_id: &str, roles: &[Role]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for r in roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(user_id)
            .bind(r.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Inserts an account and its roles in one transaction. A unique violation comes back
    /// as the `sqlx::Error`; the caller tells which key clashed.
    pub async fn insert_user(&self, user: &User, password_hash: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, username, username_lower, email, first_name, last_name, \
             password_hash, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(user.username.to_lowercase())
        .bind(&user.email)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(password_hash)
        .bind(i64::from(user.enabled))
        .bind(to_micros(user.created_at))
        .bind(to_micros(user.updated_at))
        .execute(&mut *tx)
        .await?;
        write_roles(&mut tx, &user.id, &user.roles).await?;
        tx.commit().await
    }

    /// True when the username is taken, compared case-insensitively.
    pub async fn username_taken(&self, username: &str) -> Result<bool, sqlx::Error> {
        let mut c = self.conn().await?;
        let row = sqlx::query("SELECT 1 AS one FROM users WHERE username_lower = $1")
            .bind(username.to_lowercase())
            .fetch_optional(&mut *c)
            .await?;
        Ok(row.is_some())
    }

    /// True when the (lower-cased) e-mail address is taken.
    pub async fn email_taken(&self, email: &str) -> Result<bool, sqlx::Error> {
        let mut c = self.conn().await?;
        let row = sqlx::query("SELECT 1 AS one FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *c)
            .await?;
        Ok(row.is_some())
    }

    /// The account with this id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, sqlx::Error> {
        let mut c = self.conn().await?;
        fetch_one_where(&mut c, "id", id, "").await
    }

    /// The account a login names: an e-mail address when it holds `@`, else a username
    /// (case-insensitive either way).
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRecord>, sqlx::Error> {
        let mut c = self.conn().await?;
        let lower = login.to_lowercase();
        let column = if lower.contains('@') {
            "email"
        } else {
            "username_lower"
        };
        fetch_one_where(&mut c, column, &lower, "").await
    }

    /// Locks and reads an account inside a write transaction.
    pub async fn lock_user(
        &self,
        conn: &mut Conn,
        id: &str,
    ) -> Result<Option<UserRecord>, sqlx::Error> {
        fetch_one_where(conn, "id", id, self.for_update()).await
    }

    /// Stores the password-guessing counters.
    pub async fn save_login_throttle(
        &self,
        conn: &mut Conn,
        id: &str,
        t: &LoginThrottle,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET login_failures = $2, login_locked_until = $3, \
             login_hour_start = $4, login_hour_failures = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(t.failures)
        .bind(t.locked_until)
        .bind(t.hour_start)
        .bind(t.hour_failures)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Stores the TOTP-guessing counters.
    pub async fn save_totp_guard(
        &self,
        conn: &mut Conn,
        id: &str,
        g: &TotpGuard,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET totp_failures = $2, totp_locked_until = $3, \
             totp_day_start = $4, totp_day_failures = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(g.failures)
        .bind(g.locked_until)
        .bind(g.day_start)
        .bind(g.day_failures)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Voids every MFA token issued up to `at` (µs).
    pub async fn void_mfa_tokens(
        &self,
        conn: &mut Conn,
        id: &str,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET mfa_valid_after = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Spends a TOTP step: compare-and-set, true only when `step` is above the stored one.
    pub async fn spend_totp_step(
        &self,
        conn: &mut Conn,
        id: &str,
        step: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE users SET last_totp_step = $2 WHERE id = $1 AND last_totp_step < $2",
        )
        .bind(id)
        .bind(step)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the password hash.
    pub async fn set_password_hash(
        &self,
        conn: &mut Conn,
        id: &str,
        hash: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .bind(now)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Stores a pending TOTP secret (replacing any earlier pending one).
    pub async fn set_pending_totp(
        &self,
        conn: &mut Conn,
        id: &str,
        secret: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET totp_pending_secret = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(secret)
            .bind(now)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Turns TOTP on with the given secret or off (`None`), clearing the pending secret.
    pub async fn set_totp(
        &self,
        conn: &mut Conn,
        id: &str,
        secret: Option<&str>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET totp_secret = $2, totp_enabled = $3, totp_pending_secret = NULL, \
             updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(secret.map(str::to_string))
        .bind(i64::from(secret.is_some()))
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Changes roles and/or the enabled flag.
    pub async fn update_admin_fields(
        &self,
        conn: &mut Conn,
        id: &str,
        roles: Option<&[Role]>,
        enabled: Option<bool>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        if let Some(roles) = roles {
            write_roles(conn, id, roles).await?;
        }
        if let Some(enabled) = enabled {
            sqlx::query("UPDATE users SET enabled = $2 WHERE id = $1")
                .bind(id)
                .bind(i64::from(enabled))
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// A page of accounts in creation order, and how many match the filter.
    pub async fn list_users(&self, f: &ListFilter) -> Result<(Vec<User>, i64), sqlx::Error> {
        let mut c = self.conn().await?;
        let role = f.role.map(Role::as_str).unwrap_or("");
        let enabled_only = i64::from(f.enabled_only);
        let filter = "($1 = '' OR EXISTS (SELECT 1 FROM user_roles r \
                      WHERE r.user_id = u.id AND r.role = $1)) \
                      AND ($2 = 0 OR u.enabled = 1)";
        let total: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM users u WHERE {filter}"))
            .bind(role)
            .bind(enabled_only)
            .fetch_one(&mut *c)
            .await?
            .try_get("n")?;
        let (after_t, after_id, use_cursor) = match &f.after {
            Some((t, id)) => (*t, id.clone(), 1_i64),
            None => (0, String::new(), 0),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM users u WHERE {filter} \
             AND ($3 = 0 OR u.created_at > $4 OR (u.created_at = $4 AND u.id > $5)) \
             ORDER BY u.created_at, u.id LIMIT $6 OFFSET $7"
        );
        let rows = sqlx::query(&sql)
            .bind(role)
            .bind(enabled_only)
            .bind(use_cursor)
            .bind(after_t)
            .bind(after_id)
            .bind(f.limit)
            .bind(if use_cursor == 1 { 0 } else { f.offset })
            .fetch_all(&mut *c)
            .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            let roles = roles_of(&mut c, &id).await?;
            users.push(record(row, roles)?.user);
        }
        Ok((users, total))
    }
}
