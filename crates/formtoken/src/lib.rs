//! `lms-formtoken`: the signed form-token codec shared by the config service (which
//! issues tokens in render packages and keeps the signing keys) and the lead service
//! (which verifies them on every public submission with keys it fetched from config).
//! Pure: no I/O, no proto, no clock (callers pass "now" in), no key loading.
//!
//! Format: `v1.<kid>.<base64url(payload JSON)>.<base64url(HMAC-SHA256)>`. The payload is
//! `{"p": productCode, "v": version, "h": configHash, "iat": seconds,
//! "n": base64url(16 random bytes)}`; the MAC covers the ASCII bytes
//! `v1.<kid>.<payload_b64>`. base64url is unpadded and must be canonical. Keys are 256-bit
//! with an id (`[A-Za-z0-9_-]{1,32}`); the first key of a ring signs, every key verifies
//! (rotation).
//!
//! Verification is total (never panics, bounded input), checks the MAC in constant time
//! with `verify_slice` before reading the payload, refuses issue times more than
//! [`MAX_FUTURE_SKEW_SECS`] ahead, and answers one undifferentiated
//! [`TokenError::Invalid`] for every defect except age ([`TokenError::Expired`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 1024;
/// How far in the future an issue time may lie (clock skew between instances), seconds.
pub const MAX_FUTURE_SKEW_SECS: i64 = 300;
/// Token format version.
const VERSION: &str = "v1";
/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 16;

/// One signing key: its id and 256 secret bits.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// True when `kid` is a valid key id: `[A-Za-z0-9_-]{1,32}`.
pub fn kid_ok(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl SigningKey {
    /// Creates a key; `None` when the id is not `[A-Za-z0-9_-]{1,32}`.
    pub fn new(kid: &str, key: [u8; KEY_BYTES]) -> Option<Self> {
        kid_ok(kid).then(|| Self {
            kid: kid.to_string(),
            key,
        })
    }

    /// The key with the id derived from its bytes: first 8 hex characters of SHA-256.
    pub fn derived(key: [u8; KEY_BYTES]) -> Self {
        let digest = hex::encode(Sha256::digest(key));
        Self {
            kid: digest[..8].to_string(),
            key,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The secret key bytes (to hand the key to a verifying mesh service; never log them).
    pub fn secret(&self) -> &[u8; KEY_BYTES] {
        &self.key
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; 32 bytes never fails.
        <HmacSha256 as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_mac())
    }
}

#[cold]
fn unreachable_mac() -> HmacSha256 {
    // `Hmac::new_from_slice` is infallible for HMAC; keep a total fallback anyway.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// What a token vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// Product code.
    #[serde(rename = "p")]
    pub product_code: String,
    /// Configuration version.
    #[serde(rename = "v")]
    pub version: i32,
    /// Configuration hash.
    #[serde(rename = "h")]
    pub config_hash: String,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// base64url of 16 random bytes.
    #[serde(rename = "n")]
    pub nonce: String,
}

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The claims.
    pub claims: TokenClaims,
    /// Id of the key that signed it.
    pub kid: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, unknown key, bad MAC, or issued in the future.
    #[error("the form signature is invalid")]
    Invalid,
    /// Older than the token lifetime.
    #[error("the form signature has expired")]
    Expired,
}

/// The parts of a token of the right shape: at most [`MAX_TOKEN_BYTES`] ASCII bytes,
/// exactly four dot-separated parts, format `v1` and a valid key id. Nothing is decoded
/// or checked cryptographically yet.
struct Parts<'a> {
    kid: &'a str,
    payload_b64: &'a str,
    tag_b64: &'a str,
}

fn split(token: &str) -> Option<Parts<'_>> {
    if token.len() > MAX_TOKEN_BYTES || !token.is_ascii() {
        return None;
    }
    let mut parts = token.split('.');
    let (Some(version), Some(kid), Some(payload_b64), Some(tag_b64), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (version == VERSION && kid_ok(kid)).then_some(Parts {
        kid,
        payload_b64,
        tag_b64,
    })
}

/// The key id a token names, when the token has the right shape (bounded length, four
/// parts, format `v1`, a valid key id); `None` otherwise. It says nothing about the
/// token's authenticity: a verifier uses it only to decide whether it knows the key.
pub fn token_kid(token: &str) -> Option<&str> {
    split(token).map(|p| p.kid)
}

/// The form-signing key ring.
#[derive(Debug, Clone)]
pub struct FormKeys {
    keys: Vec<SigningKey>,
}

impl FormKeys {
    /// A key ring; the first key signs. `None` when empty or when two keys share an id.
    pub fn new(keys: Vec<SigningKey>) -> Option<Self> {
        let mut kids: Vec<&str> = keys.iter().map(SigningKey::kid).collect();
        kids.sort_unstable();
        kids.dedup();
        (!keys.is_empty() && kids.len() == keys.len()).then_some(Self { keys })
    }

    /// The keys, the signing key first.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// True when the ring holds a key with this id.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// The signing key's id.
    pub fn signing_kid(&self) -> &str {
        self.keys.first().map(SigningKey::kid).unwrap_or_default()
    }

    /// Issues a token for these claims with the first key.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        let Some(key) = self.keys.first() else {
            return String::new();
        };
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signed = format!("{VERSION}.{}.{}", key.kid, URL_SAFE_NO_PAD.encode(payload));
        let mut mac = key.mac();
        mac.update(signed.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Claims for a fresh token.
    pub fn claims(
        product_code: &str,
        version: i32,
        config_hash: &str,
        now: DateTime<Utc>,
        nonce: [u8; NONCE_BYTES],
    ) -> TokenClaims {
        TokenClaims {
            product_code: product_code.to_string(),
            version,
            config_hash: config_hash.to_string(),
            iat: now.timestamp(),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
        }
    }

    /// Verifies a token at `now` with lifetime `ttl_secs`.
    pub fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
        ttl_secs: i64,
    ) -> Result<VerifiedToken, TokenError> {
        use TokenError::Invalid;
        let Parts {
            kid,
            payload_b64,
            tag_b64,
        } = split(token).ok_or(Invalid)?;
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or(Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).map_err(|_| Invalid)?;
        let mut mac = key.mac();
        mac.update(VERSION.as_bytes());
        mac.update(b".");
        mac.update(kid.as_bytes());
        mac.update(b".");
        mac.update(payload_b64.as_bytes());
        mac.verify_slice(&tag).map_err(|_| Invalid)?;

        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| Invalid)?;
        let claims: TokenClaims = serde_json::from_slice(&payload).map_err(|_| Invalid)?;
        let nonce_ok = URL_SAFE_NO_PAD
            .decode(&claims.nonce)
            .is_ok_and(|n| n.len() == NONCE_BYTES);
        if !nonce_ok || claims.version < 1 {
            return Err(Invalid);
        }
        let issued_at = DateTime::from_timestamp(claims.iat, 0).ok_or(Invalid)?;
        let now_s = now.timestamp();
        if claims.iat > now_s.saturating_add(MAX_FUTURE_SKEW_SECS) {
            return Err(Invalid);
        }
        let expires = claims.iat.saturating_add(ttl_secs);
        if now_s > expires {
            return Err(TokenError::Expired);
        }
        let expires_at = DateTime::from_timestamp(expires, 0).ok_or(Invalid)?;
        Ok(VerifiedToken {
            claims,
            kid: key.kid.clone(),
            issued_at,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "5f949495a47f60220461705ddd07b71245e6994c728b154630c208e0e74de46e";

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn ring() -> FormKeys {
        FormKeys::new(vec![SigningKey::new("k1", [7; 32]).unwrap()]).unwrap()
    }

    fn token() -> String {
        ring().sign(&FormKeys::claims("HOME", 3, HASH, t0(), [9; 16]))
    }

    #[test]
    fn round_trip() {
        let v = ring().verify(&token(), t0(), 7200).unwrap();
        assert_eq!(v.claims.product_code, "HOME");
        assert_eq!(v.claims.version, 3);
        assert_eq!(v.claims.config_hash, HASH);
        assert_eq!(v.claims.nonce, URL_SAFE_NO_PAD.encode([9u8; 16]));
        assert_eq!(v.kid, "k1");
        assert_eq!(v.issued_at, t0());
        assert_eq!(v.expires_at, t0() + chrono::Duration::seconds(7200));
        assert!(token().starts_with("v1.k1."));
    }

    #[test]
    fn the_payload_is_the_documented_json() {
        let t = token();
        let payload = t.split('.').nth(2).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"p": "HOME", "v": 3, "h": HASH, "iat": 1_800_000_000i64,
                               "n": URL_SAFE_NO_PAD.encode([9u8; 16])})
        );
    }

    #[test]
    fn every_bit_flip_is_refused() {
        let t = token();
        let ring = ring();
        for i in 0..t.len() {
            for bit in 0..7 {
                let mut b = t.clone().into_bytes();
                b[i] ^= 1 << bit;
                let Ok(s) = String::from_utf8(b) else {
                    continue;
                };
                if s == t {
                    continue;
                }
                assert_eq!(ring.verify(&s, t0(), 7200), Err(TokenError::Invalid), "{s}");
            }
        }
    }

    #[test]
    fn time_window() {
        let r = ring();
        let t = token();
        let s = chrono::Duration::seconds;
        assert!(r.verify(&t, t0() + s(7200), 7200).is_ok());
        assert_eq!(r.verify(&t, t0() + s(7201), 7200), Err(TokenError::Expired));
        assert!(r.verify(&t, t0() - s(300), 7200).is_ok());
        assert_eq!(r.verify(&t, t0() - s(301), 7200), Err(TokenError::Invalid));
    }

    #[test]
    fn rotation_and_unknown_kids() {
        let old = SigningKey::new("old", [1; 32]).unwrap();
        let new = SigningKey::new("new", [2; 32]).unwrap();
        let before = FormKeys::new(vec![old.clone()]).unwrap();
        let after = FormKeys::new(vec![new.clone(), old]).unwrap();
        let t = before.sign(&FormKeys::claims("HOME", 1, HASH, t0(), [0; 16]));
        assert_eq!(after.verify(&t, t0(), 60).unwrap().kid, "old");
        assert_eq!(after.signing_kid(), "new");
        let only_new = FormKeys::new(vec![new]).unwrap();
        assert_eq!(only_new.verify(&t, t0(), 60), Err(TokenError::Invalid));
        assert!(FormKeys::new(vec![]).is_none());
        let dup = SigningKey::new("a", [1; 32]).unwrap();
        assert!(FormKeys::new(vec![dup.clone(), dup]).is_none());
        assert!(SigningKey::new("a.b", [0; 32]).is_none());
        assert_eq!(SigningKey::derived([0; 32]).kid().len(), 8);
    }

    #[test]
    fn the_kid_of_a_well_shaped_token() {
        let t = token();
        assert_eq!(token_kid(&t), Some("k1"));
        assert_eq!(token_kid("v1.ghost.x.y"), Some("ghost"));
        for bad in [
            "",
            "v1.k1",
            "v1.k1.x",
            "v1.k1.x.y.z",
            "v2.k1.x.y",
            "v1..x.y",
            "v1.a b.x.y",
            "v1.ü.x.y",
        ] {
            assert_eq!(token_kid(bad), None, "{bad:?}");
        }
        let long = format!("v1.k1.{}.y", "x".repeat(MAX_TOKEN_BYTES));
        assert_eq!(token_kid(&long), None);
        assert_eq!(token_kid(&format!("v1.{}.x.y", "k".repeat(33))), None);
        let r = ring();
        assert!(r.contains("k1"));
        assert!(!r.contains("k2"));
        assert_eq!(r.keys().len(), 1);
        assert_eq!(r.keys()[0].secret(), &[7u8; 32]);
        assert!(!format!("{:?}", r.keys()[0]).contains('7'));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let r = ring();
        let t = token();
        let (signed, tag) = t.rsplit_once('.').unwrap();
        let mut cases: Vec<String> = vec![
            String::new(),
            ".".into(),
            "....".into(),
            "v1".into(),
            "v1.k1".into(),
            "v1.k1..".into(),
            "v2.k1.e30.AAAA".into(),
            format!("{t}."),
            format!("{t}=="),
            format!("{signed}.{}", tag.to_uppercase()),
            format!("{signed}.{}", tag.to_lowercase()),
            format!("{signed}.{}", &tag[..tag.len() - 1]),
            format!("{signed}.{tag}AA"),
            format!("{signed}.{}", hex::encode([0u8; 32])),
            format!("{signed}.{}", "A".repeat(2000)),
            t.replace("v1.k1.", "v1.k2."),
            "v1.k1.\u{0}.\u{0}".into(),
            "v1.k1.ü.ü".into(),
        ];
        // A correctly signed token whose payload is not the expected JSON.
        for payload in [
            "null",
            "{}",
            "[]",
            "{\"p\":1}",
            "{\"p\":\"A\",\"v\":1,\"h\":\"x\",\"iat\":1e300,\"n\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
        ] {
            let signed = format!("v1.k1.{}", URL_SAFE_NO_PAD.encode(payload));
            let mut mac = SigningKey::new("k1", [7; 32]).unwrap().mac();
            mac.update(signed.as_bytes());
            let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
            cases.push(format!("{signed}.{tag}"));
        }
        // A signed token with a short nonce, a zero version, a far-away issue time.
        for claims in [
            TokenClaims {
                nonce: "AAAA".into(),
                ..FormKeys::claims("A", 1, HASH, t0(), [0; 16])
            },
            FormKeys::claims("A", 0, HASH, t0(), [0; 16]),
            TokenClaims {
                iat: i64::MAX,
                ..FormKeys::claims("A", 1, HASH, t0(), [0; 16])
            },
        ] {
            cases.push(r.sign(&claims));
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 200) as usize;
            let s: String = (0..len)
                .map(|i| {
                    let c = (seed.rotate_left(i as u32) % 96) as u8 + 32;
                    if c == 127 { '.' } else { c as char }
                })
                .collect();
            cases.push(s);
        }
        for c in &cases {
            assert_eq!(r.verify(c, t0(), 7200), Err(TokenError::Invalid), "{c:?}");
        }
        assert_eq!(
            r.verify(&"v".repeat(10_000), t0(), 7200),
            Err(TokenError::Invalid)
        );
    }
}
