//! TOTP (RFC 6238) as security.md fixes it: SHA-1, 6 digits, 30 s steps, 160-bit
//! secrets; a code is accepted for the current and the previous step only, and never for
//! a step at or before the last one the user already spent.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a new secret (160 bits).
pub const SECRET_BYTES: usize = 20;
/// Issuer shown by authenticator apps.
pub const ISSUER: &str = "LMS";

/// The step that contains `unix_secs`.
pub fn step_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The generator for a secret and account name.
pub fn generator(secret: &[u8], username: &str) -> Result<TOTP, String> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS.unsigned_abs(),
        secret.to_vec(),
        Some(ISSUER.to_string()),
        username.to_string(),
    )
    .map_err(|e| e.to_string())
}

/// The code of a step.
pub fn code_at(totp: &TOTP, step: i64) -> String {
    totp.generate(u64::try_from(step * STEP_SECS).unwrap_or(0))
}

/// True when the input looks like a code (exactly six ASCII digits).
pub fn well_formed(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The step (current or previous) whose code equals `code`, compared in constant time.
pub fn matching_step(totp: &TOTP, code: &str, current: i64) -> Option<i64> {
    let mut found = None;
    for step in [current, current - 1] {
        let expected = code_at(totp, step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B, SHA-1 seed, T = 59 s -> 94287082 (8 digits); the 6-digit
        // code is its last six digits.
        let t = generator(b"12345678901234567890", "u").unwrap();
        assert_eq!(code_at(&t, step_of(59)), "287082");
    }

    #[test]
    fn accepts_current_and_previous_step_only() {
        let t = generator(&[7u8; SECRET_BYTES], "jane").unwrap();
        let now = 1_000_000;
        for (offset, ok) in [(0, true), (-1, true), (-2, false), (1, false), (2, false)] {
            let code = code_at(&t, now + offset);
            let m = matching_step(&t, &code, now);
            // A code of another step may collide by chance; the vector above is fixed.
            assert_eq!(m == Some(now + offset), ok, "offset {offset}");
        }
        assert!(well_formed("012345"));
        assert!(!well_formed("12345"));
        assert!(!well_formed("12345a"));
        assert!(!well_formed("１２３４５６"));
    }

    #[test]
    fn steps_are_floored() {
        assert_eq!(step_of(29), 0);
        assert_eq!(step_of(30), 1);
        assert_eq!(step_of(-1), -1);
    }
}
