//! Accounts: what a new account must satisfy and how an account looks to callers.

use super::password;
use chrono::{DateTime, Utc};
use lms_platform::Violation;
use lms_platform::auth::Role;

/// Longest first or last name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Input of a new account (Register, `lms admin create-user`).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Password in clear; hashed before it is stored.
    pub password: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Roles; empty means AGENT.
    pub roles: Vec<Role>,
}

/// An account as callers see it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id (UUID).
    pub id: String,
    /// Login name as registered.
    pub username: String,
    /// E-mail address, lower-cased.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// False when disabled by an administrator.
    pub enabled: bool,
    /// Roles, sorted.
    pub roles: Vec<Role>,
    /// Whether login needs a TOTP code.
    pub totp_enabled: bool,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// True for a valid username: 3 to 50 of `[A-Za-z0-9._-]`.
pub fn valid_username(s: &str) -> bool {
    (3..=50).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The stored form of an e-mail address (lower-cased), or why it is invalid.
pub fn normalize_email(s: &str) -> Result<String, &'static str> {
    if s.is_empty() {
        return Err("is required");
    }
    if s.len() > MAX_EMAIL_BYTES || !email_address::EmailAddress::is_valid(s) {
        return Err("is not a valid e-mail address");
    }
    Ok(s.to_lowercase())
}

fn check_name(field: &str, v: &str, out: &mut Vec<Violation>) {
    if v.trim().is_empty() {
        out.push(Violation::new(field, "is required"));
    } else if v.chars().count() > MAX_NAME_CHARS {
        out.push(Violation::new(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    } else if v.chars().any(char::is_control) {
        out.push(Violation::new(field, "must not contain control characters"));
    }
}

/// Every violation of a new account's fields (REST/JSON field names).
pub fn validate(input: &NewUser) -> Vec<Violation> {
    let mut v = Vec::new();
    if !valid_username(&input.username) {
        v.push(Violation::new(
            "username",
            "must be 3 to 50 characters of letters, digits, '.', '_' or '-'",
        ));
    }
    if let Err(e) = normalize_email(&input.email) {
        v.push(Violation::new("email", e));
    }
    check_name("firstName", &input.first_name, &mut v);
    check_name("lastName", &input.last_name, &mut v);
    if let Err(e) = password::check_new(&input.password) {
        v.push(Violation::new("password", e));
    }
    v
}

/// The roles to store: sorted, deduplicated, AGENT when empty.
pub fn normalize_roles(roles: &[Role]) -> Vec<Role> {
    let mut r = roles.to_vec();
    r.sort();
    r.dedup();
    if r.is_empty() {
        r.push(Role::Agent);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> NewUser {
        NewUser {
            username: "jane.doe-1".into(),
            email: "Jane@Example.com".into(),
            password: "a long enough passphrase".into(),
            first_name: "Jane".into(),
            last_name: "Doe".into(),
            roles: vec![],
        }
    }

    #[test]
    fn accepts_a_good_account() {
        assert!(validate(&input()).is_empty());
        assert_eq!(
            normalize_email("Jane@Example.com").unwrap(),
            "jane@example.com"
        );
    }

    #[test]
    fn names_every_bad_field() {
        let mut i = input();
        i.username = "a b".into();
        i.email = "not-an-email".into();
        i.first_name = " ".into();
        i.last_name = "x".repeat(101);
        i.password = "short".into();
        let fields: Vec<_> = validate(&i).into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            ["username", "email", "firstName", "lastName", "password"]
        );
    }

    #[test]
    fn username_bounds() {
        assert!(!valid_username("ab"));
        assert!(valid_username("abc"));
        assert!(valid_username(&"a".repeat(50)));
        assert!(!valid_username(&"a".repeat(51)));
        assert!(!valid_username("jane@x"));
        assert!(!valid_username("jänе"));
    }

    #[test]
    fn roles_default_to_agent() {
        assert_eq!(normalize_roles(&[]), vec![Role::Agent]);
        assert_eq!(
            normalize_roles(&[Role::Agent, Role::Admin, Role::Agent]),
            vec![Role::Admin, Role::Agent]
        );
    }
}
