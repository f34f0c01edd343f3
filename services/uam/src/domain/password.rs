//! The password policy (security.md): 12 to 128 characters and at most 512 bytes, checked
//! before any hashing, and not one of the bundled common passwords (compared
//! case-insensitively). The password itself is never trimmed, folded or truncated.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Fewest characters (Unicode scalar values) of a new password.
pub const MIN_CHARS: usize = 12;
/// Most characters of any password, new or presented at login.
pub const MAX_CHARS: usize = 128;
/// Most bytes of any password (a cheap guard before counting characters).
pub const MAX_BYTES: usize = 512;

/// Common passwords, lower-cased, one per line (source: `data/README.md`).
const COMMON_LIST: &str = include_str!("../../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_LIST
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Number of entries in the bundled common-password list.
pub fn common_list_len() -> usize {
    common().len()
}

/// Checks only the upper bounds, as a login does before hashing.
pub fn check_max(password: &str) -> Result<(), String> {
    if password.len() > MAX_BYTES || password.chars().count() > MAX_CHARS {
        return Err(format!("must be at most {MAX_CHARS} characters"));
    }
    Ok(())
}

/// Checks a new password against the whole policy; the error says what is wrong.
pub fn check_new(password: &str) -> Result<(), String> {
    check_max(password)?;
    if password.chars().count() < MIN_CHARS {
        return Err(format!("must be at least {MIN_CHARS} characters"));
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err("is too common; choose another".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_large_enough() {
        assert!(common_list_len() >= 3_000, "{}", common_list_len());
    }

    #[test]
    fn policy_cases_of_security_md() {
        assert!(check_new("Password1!").is_err());
        assert!(check_new("abcdefg").is_err());
        assert!(check_new(&"a".repeat(200)).is_err());
        assert!(
            check_new("  Ünïcødé pässphrase with spaces — ☕ tea, not coffee, please  ").is_ok()
        );
        // Common even with different case, and long enough to pass the length check.
        assert!(check_new("Q1W2E3R4T5Y6").unwrap_err().contains("common"));
        assert!(check_new("correct horse battery staple").is_ok());
    }

    #[test]
    fn bounds_are_characters_and_bytes() {
        assert!(check_new(&"é".repeat(128)).is_ok());
        assert!(check_new(&"é".repeat(129)).is_err());
        // 128 characters but more than 512 bytes.
        assert!(check_max(&"😀".repeat(128)).is_ok());
        assert!(check_max(&format!("{}a", "😀".repeat(128))).is_err());
        assert!(check_max(&"x".repeat(1 << 20)).is_err());
    }
}
