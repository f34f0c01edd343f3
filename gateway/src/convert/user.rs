//! uam shapes: the seed's User, the token envelope, and the bodies of register and user
//! updates.

use super::{enums, time};
use crate::body::Fields;
use lms_proto::uam::v1 as pb;
use serde_json::{Value, json};

/// The seed's User: `{id, username, email, firstName, lastName, enabled, roles,
/// totpEnabled, createdAt, updatedAt}`.
pub fn user_json(u: &pb::User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "enabled": u.enabled,
        "roles": u.roles.iter().filter_map(|r| enums::role::name(*r)).collect::<Vec<_>>(),
        "totpEnabled": u.totp_enabled,
        "createdAt": time::json(u.create_time.as_ref()),
        "updatedAt": time::json(u.update_time.as_ref()),
    })
}

/// Reads `roles` (an array of role names), naming a bad element `roles[i]`.
pub fn roles(f: &mut Fields) -> Option<Vec<i32>> {
    let names = f.strings("roles")?;
    let mut out = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        match enums::role::parse(n) {
            Some(r) => out.push(r),
            None => {
                let path = format!("{}[{i}]", f.path("roles"));
                f.fail(
                    path,
                    format!(
                        "unknown role {n:?}; expected one of {}",
                        enums::role::expected()
                    ),
                );
            }
        }
    }
    Some(out)
}

/// The register body: `{username, email, password, firstName, lastName, roles?}`.
pub fn register_request(f: &mut Fields) -> pb::RegisterRequest {
    pb::RegisterRequest {
        username: f.string("username").unwrap_or_default(),
        email: f.string("email").unwrap_or_default(),
        password: f.string("password").unwrap_or_default(),
        first_name: f.string("firstName").unwrap_or_default(),
        last_name: f.string("lastName").unwrap_or_default(),
        roles: roles(f).unwrap_or_default(),
    }
}

/// The body of `PUT /uam/api/users/{id}`: `{roles?, enabled?}`; the mask names what is present.
pub fn update_user_request(id: String, f: &mut Fields) -> pb::UpdateUserRequest {
    let mut paths = Vec::new();
    let mut user = pb::User {
        id,
        ..Default::default()
    };
    if f.has("roles") {
        paths.push("roles".to_string());
        if f.get("roles").is_some_and(Value::is_null) {
            let path = f.path("roles");
            f.fail(path, "must be an array of roles, got null");
        }
        user.roles = roles(f).unwrap_or_default();
    }
    if f.has("enabled") {
        paths.push("enabled".to_string());
        if f.get("enabled").is_some_and(Value::is_null) {
            let path = f.path("enabled");
            f.fail(path, "must be a boolean, got null");
        }
        user.enabled = f.bool("enabled").unwrap_or_default();
    }
    // `id` may be echoed back (a client PUTting what it got); it must name the same user.
    if f.string("id").is_some_and(|body_id| body_id != user.id) {
        let path = f.path("id");
        f.fail(path, "does not match the id in the path");
    }
    for read_only in [
        "username",
        "email",
        "firstName",
        "lastName",
        "totpEnabled",
        "createdAt",
        "updatedAt",
    ] {
        if f.has(read_only) {
            let _ = f.value(read_only);
            let path = f.path(read_only);
            f.fail(path, "is not writable here (writable: roles, enabled)");
        }
    }
    if paths.is_empty() {
        for field in ["roles", "enabled"] {
            let path = f.path(field);
            f.fail(path, "set roles and/or enabled: the body changes nothing");
        }
    }
    pb::UpdateUserRequest {
        user: Some(user),
        update_mask: Some(prost_types::FieldMask { paths }),
    }
}

/// The `data` of the token envelope for a token pair.
pub fn tokens_json(t: &pb::TokenPair) -> Value {
    json!({
        "accessToken": t.access_token,
        "refreshToken": t.refresh_token,
        "tokenType": if t.token_type.is_empty() { "Bearer" } else { t.token_type.as_str() },
        "expiresIn": t.expires_in,
        "mfaRequired": false,
    })
}

/// The `data` of the token envelope for an MFA challenge.
pub fn mfa_json(m: &pb::MfaChallenge) -> Value {
    json!({
        "mfaRequired": true,
        "mfaToken": m.mfa_token,
        "expiresIn": m.expires_in,
    })
}

/// The seed's envelope `{success, message, data, statusCode, timestamp}` (200 answers of
/// login, totp-login and refresh only; errors use the error JSON).
pub fn envelope(message: &str, data: Value) -> Value {
    json!({
        "success": true,
        "message": message,
        "data": data,
        "statusCode": 200,
        "timestamp": time::format(chrono::Utc::now()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_shape_is_the_seeds() {
        let u = pb::User {
            id: "u1".into(),
            username: "ann".into(),
            email: "ann@example.com".into(),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            enabled: true,
            roles: vec![pb::Role::Admin as i32, pb::Role::Agent as i32],
            totp_enabled: false,
            create_time: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            update_time: None,
        };
        let j = user_json(&u);
        assert_eq!(j["roles"], json!(["ADMIN", "AGENT"]));
        assert_eq!(j["firstName"], "Ann");
        assert_eq!(j["createdAt"], "1970-01-01T00:00:00Z");
        assert_eq!(j["updatedAt"], Value::Null);
        assert_eq!(j.as_object().map(|o| o.len()), Some(10));
    }

    #[test]
    fn unknown_roles_are_named_by_index() {
        let body = json!({"username": "a", "roles": ["ADMIN", "GOD"]});
        let mut f = Fields::new(body.as_object().cloned().unwrap_or_default(), "");
        let req = register_request(&mut f);
        assert_eq!(req.roles, vec![pb::Role::Admin as i32]);
        let v = f.into_violations();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "roles[1]");
    }

    #[test]
    fn user_update_mask_follows_the_body() {
        let body = json!({"enabled": false});
        let mut f = Fields::new(body.as_object().cloned().unwrap_or_default(), "");
        let req = update_user_request("u1".into(), &mut f);
        assert!(f.into_violations().is_empty());
        assert_eq!(
            req.update_mask.map(|m| m.paths),
            Some(vec!["enabled".to_string()])
        );
        assert_eq!(
            req.user.map(|u| (u.id, u.enabled)),
            Some(("u1".into(), false))
        );
    }
}
