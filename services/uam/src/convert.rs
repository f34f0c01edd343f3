//! Conversions between the `lms.uam.v1` messages and the domain. Proto types stop here.

use crate::domain::{NewUser, User};
use crate::error::UamError;
use crate::service::{PublicKey, Tokens};
use lms_platform::auth::Role;
use lms_proto::uam::v1 as pb;

/// A proto role as a domain role (`None` for UNSPECIFIED or unknown numbers).
pub fn role_from_proto(v: i32) -> Option<Role> {
    match pb::Role::try_from(v).ok()? {
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::Manager => Some(Role::Manager),
        pb::Role::Agent => Some(Role::Agent),
        pb::Role::Unspecified => None,
    }
}

/// A domain role as its proto number.
pub fn role_to_proto(r: Role) -> i32 {
    match r {
        Role::Admin => pb::Role::Admin as i32,
        Role::Manager => pb::Role::Manager as i32,
        Role::Agent => pb::Role::Agent as i32,
    }
}

/// Converts a list of proto roles; `field` names the list in violations.
pub fn roles_from_proto(values: &[i32], field: &str) -> Result<Vec<Role>, UamError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            role_from_proto(*v)
                .ok_or_else(|| UamError::field(&format!("{field}[{i}]"), "is not a role"))
        })
        .collect()
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A revoked session as its message.
pub fn revoked_to_proto(s: crate::store::SessionRow) -> pb::RevokedSession {
    pb::RevokedSession {
        session_id: s.id,
        user_id: s.user_id,
        revoke_time: s
            .revoked_at
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(timestamp),
    }
}

/// A user as its message.
pub fn user_to_proto(u: User) -> pb::User {
    pb::User {
        id: u.id,
        username: u.username,
        email: u.email,
        first_name: u.first_name,
        last_name: u.last_name,
        enabled: u.enabled,
        roles: u.roles.into_iter().map(role_to_proto).collect(),
        totp_enabled: u.totp_enabled,
        create_time: Some(timestamp(u.created_at)),
        update_time: Some(timestamp(u.updated_at)),
    }
}

/// Register's input as a new account (roles unchecked by caller here).
pub fn register_from_proto(r: pb::RegisterRequest) -> Result<NewUser, UamError> {
    Ok(NewUser {
        roles: roles_from_proto(&r.roles, "roles")?,
        username: r.username,
        email: r.email,
        password: r.password,
        first_name: r.first_name,
        last_name: r.last_name,
    })
}

/// Tokens as a `TokenPair`.
pub fn tokens_to_proto(t: Tokens) -> pb::TokenPair {
    pb::TokenPair {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        token_type: "Bearer".to_string(),
        expires_in: t.expires_in,
    }
}

/// A public key as a `SigningKey`.
pub fn key_to_proto(k: PublicKey) -> pb::SigningKey {
    pb::SigningKey {
        kid: k.kid,
        alg: "EdDSA".to_string(),
        public_key: k.x,
    }
}
