-- uam: accounts, roles, refresh-token families, used MFA tokens.
-- Instants are BIGINT microseconds since the epoch (UTC); flags are BIGINT 0/1.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    username_lower TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    -- Active TOTP secret (base32) and the one waiting for EnableTotp.
    totp_secret TEXT,
    totp_pending_secret TEXT,
    totp_enabled BIGINT NOT NULL DEFAULT 0,
    -- Highest TOTP step spent; codes of steps at or before it are refused.
    last_totp_step BIGINT NOT NULL DEFAULT 0,
    totp_failures BIGINT NOT NULL DEFAULT 0,
    totp_locked_until BIGINT NOT NULL DEFAULT 0,
    totp_day_start BIGINT NOT NULL DEFAULT 0,
    totp_day_failures BIGINT NOT NULL DEFAULT 0,
    -- MFA tokens issued at or before this instant are void (daily TOTP cap reached).
    mfa_valid_after BIGINT NOT NULL DEFAULT 0,
    login_failures BIGINT NOT NULL DEFAULT 0,
    login_locked_until BIGINT NOT NULL DEFAULT 0,
    login_hour_start BIGINT NOT NULL DEFAULT 0,
    login_hour_failures BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX users_created_idx ON users (created_at, id);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE INDEX user_roles_role_idx ON user_roles (role, user_id);

-- A refresh-token family: one per login, absolute lifetime from creation.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoke_reason TEXT
);

CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Refresh tokens, stored as the lowercase hex SHA-256 of the token.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- `jti`s of spent MFA tokens, kept until the token would have expired anyway.
CREATE TABLE used_mfa_tokens (
    jti TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX used_mfa_tokens_expiry_idx ON used_mfa_tokens (expires_at);
