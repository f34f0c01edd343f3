//! Refresh-token families (sessions), their tokens (stored as SHA-256 hex) and spent
//! MFA-token ids.

use super::{Conn, Store};
use sqlx::Row;

/// A refresh-token family.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Family id (the access token's `sid`).
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Absolute end of the family (µs).
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A refresh token found by its hash, with its family.
#[derive(Debug, Clone)]
pub struct RefreshLookup {
    /// The family.
    pub session: SessionRow,
    /// When the token was rotated away, if it was.
    pub used_at: Option<i64>,
}

impl Store {
    /// Creates a family and its first token.
    pub async fn insert_session(
        &self,
        conn: &mut Conn,
        s: &SessionRow,
        token_hash: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(now)
        .bind(s.expires_at)
        .execute(&mut *conn)
        .await?;
        self.insert_refresh_token(conn, &s.id, token_hash, now)
            .await
    }

    /// Adds a token to a family.
    pub async fn insert_refresh_token(
        &self,
        conn: &mut Conn,
        session_id: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(session_id)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Finds a token and its family by the token's hash.
    pub async fn find_refresh_token(
        &self,
        conn: &mut Conn,
        token_hash: &str,
    ) -> Result<Option<RefreshLookup>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT s.id, s.user_id, s.expires_at, s.revoked_at, t.used_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(conn)
        .await?;
        row.map(|r| {
            Ok(RefreshLookup {
                session: SessionRow {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                },
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// [`Store::find_refresh_token`] on a pooled connection, outside any transaction:
    /// the committed state at this instant (no write lock is taken or waited for).
    pub async fn peek_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshLookup>, sqlx::Error> {
        let mut c = self.conn().await?;
        self.find_refresh_token(&mut c, token_hash).await
    }

    /// Retires a token: compare-and-set, true only for the one caller that flips it.
    pub async fn retire_refresh_token(
        &self,
        conn: &mut Conn,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes one family; returns how many were revoked (0 when already revoked).
    pub async fn revoke_session(
        &self,
        conn: &mut Conn,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $2, revoke_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(session_id)
        .bind(now)
        .bind(reason)
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }

    /// Revokes every live family of a user except `keep`; returns how many.
    pub async fn revoke_user_sessions(
        &self,
        conn: &mut Conn,
        user_id: &str,
        keep: Option<&str>,
        reason: &str,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $2, revoke_reason = $3 \
             WHERE user_id = $1 AND revoked_at IS NULL AND id <> $4",
        )
        .bind(user_id)
        .bind(now)
        .bind(reason)
        .bind(keep.unwrap_or(""))
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }

    /// Families revoked at or after `since` (µs), oldest first.
    pub async fn revoked_since(&self, since: i64) -> Result<Vec<SessionRow>, sqlx::Error> {
        let mut c = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, user_id, expires_at, revoked_at FROM sessions \
             WHERE revoked_at IS NOT NULL AND revoked_at >= $1 ORDER BY revoked_at, id",
        )
        .bind(since)
        .fetch_all(&mut *c)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionRow {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// True when the family exists, belongs to `user_id` and is not revoked.
    pub async fn session_live(&self, id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
        let mut c = self.conn().await?;
        let row = sqlx::query(
            "SELECT 1 AS one FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut *c)
        .await?;
        Ok(row.is_some())
    }

    /// Records an MFA token id as spent; false when it already was.
    pub async fn spend_mfa_token(
        &self,
        conn: &mut Conn,
        jti: &str,
        user_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM used_mfa_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let done = sqlx::query(
            "INSERT INTO used_mfa_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(user_id)
        .bind(expires_at)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether an MFA token id was already spent.
    pub async fn mfa_token_spent(&self, jti: &str) -> Result<bool, sqlx::Error> {
        let mut c = self.conn().await?;
        let row = sqlx::query("SELECT 1 AS one FROM used_mfa_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&mut *c)
            .await?;
        Ok(row.is_some())
    }
}
