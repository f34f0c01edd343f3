//! The canonical form and hash of a version's content: RFC 8785 (JCS) JSON of the REST
//! shape, then lowercase hex SHA-256. The canonical text is also what the store keeps, so
//! a stored row always re-hashes to its `config_hash`.

use super::ProductContent;
use sha2::{Digest, Sha256};

/// A version's content in canonical form with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// RFC 8785 canonical JSON of the content.
    pub json: String,
    /// Lowercase hex SHA-256 of `json`.
    pub hash: String,
}

/// Canonicalises and hashes a version's content.
pub fn canonical(content: &ProductContent) -> Result<Canonical, serde_json::Error> {
    let json = serde_json_canonicalizer::to_string(content)?;
    let hash = hex::encode(Sha256::digest(json.as_bytes()));
    Ok(Canonical { json, hash })
}

/// True when `s` looks like a config hash: 64 lowercase hex characters.
pub fn is_config_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CaptchaMode, DictionaryEntry, DuplicatePolicy, ProductContent, ProductSettings,
    };
    use serde_json::json;

    fn fixed() -> ProductContent {
        let rules = json!({
            "rules": [{"id": "r1", "field": "city", "operator": "EQUALS", "value": "HN",
                       "points": 10, "reason": "capital"}],
            "priorityBands": [{"minScore": 50, "priority": "HIGH"}],
            "defaultPriority": "LOW"
        });
        ProductContent {
            name: "Home loan".into(),
            form_schema: json!({"type": "object", "properties": {
                "city": {"type": "string", "x-dictionary": "cities"},
                "age": {"type": "integer", "minimum": 18}
            }}),
            dictionaries: [(
                "cities".to_string(),
                vec![DictionaryEntry {
                    value: "HN".into(),
                    label: "Hà Nội".into(),
                }],
            )]
            .into_iter()
            .collect(),
            scoring_rules: serde_json::from_value(rules).unwrap(),
            settings: ProductSettings {
                captcha_mode: CaptchaMode::None,
                captcha_site_key: String::new(),
                allowed_origins: vec!["https://example.com".into()],
                duplicate_policy: DuplicatePolicy::Allow,
                duplicate_key_fields: vec![],
                duplicate_window_hours: 24,
            },
            styling: json!({}),
        }
    }

    /// The expected hash was computed independently of this crate:
    ///
    /// ```sh
    /// python3 -c 'import json,hashlib; obj={"name":"Home loan","formSchema":{"type":"object","properties":{"city":{"type":"string","x-dictionary":"cities"},"age":{"type":"integer","minimum":18}}},"dictionaries":{"cities":[{"value":"HN","label":"Hà Nội"}]},"scoringRules":{"rules":[{"id":"r1","field":"city","operator":"EQUALS","value":"HN","points":10,"reason":"capital"}],"priorityBands":[{"minScore":50,"priority":"HIGH"}],"defaultPriority":"LOW"},"settings":{"captchaMode":"NONE","captchaSiteKey":"","allowedOrigins":["https://example.com"],"duplicatePolicy":"ALLOW","duplicateKeyFields":[],"duplicateWindowHours":24},"styling":{}}; s=json.dumps(obj,sort_keys=True,separators=(",",":"),ensure_ascii=False); print(hashlib.sha256(s.encode()).hexdigest())'
    /// ```
    #[test]
    fn hash_of_a_fixed_product_matches_an_independent_computation() {
        let c = canonical(&fixed()).unwrap();
        assert_eq!(c.hash, EXPECTED_HASH);
        assert!(c.json.starts_with(
            r#"{"dictionaries":{"cities":[{"label":"Hà Nội","value":"HN"}]},"formSchema":"#
        ));
    }

    const EXPECTED_HASH: &str = "5f949495a47f60220461705ddd07b71245e6994c728b154630c208e0e74de46e";

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = fixed();
        let mut b = fixed();
        b.form_schema = json!({"properties": {
            "age": {"minimum": 18, "type": "integer"},
            "city": {"x-dictionary": "cities", "type": "string"}
        }, "type": "object"});
        assert_eq!(canonical(&a).unwrap().hash, canonical(&b).unwrap().hash);
        b.name = "Home loan 2".into();
        assert_ne!(canonical(&a).unwrap().hash, canonical(&b).unwrap().hash);
    }

    #[test]
    fn recognises_hash_shape() {
        assert!(is_config_hash(&"a".repeat(64)));
        assert!(!is_config_hash(&"A".repeat(64)));
        assert!(!is_config_hash(&"a".repeat(63)));
        assert!(!is_config_hash(&"g".repeat(64)));
    }
}
