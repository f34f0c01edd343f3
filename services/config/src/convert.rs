//! Conversions between `lms.config.v1` messages and the domain. Proto types stop here.

use crate::domain::{
    CaptchaMode, DictionaryEntry, DuplicatePolicy, ProductInput, ProductSettings, RenderPackage,
    StoredProduct, VerifiedToken,
};
use crate::service::VerificationKeys;
use chrono::{DateTime, Utc};
use lms_platform::Violation;
use lms_platform::json;
use lms_proto::config::v1 as pb;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A timestamp.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

fn captcha_from_proto(v: i32) -> Option<CaptchaMode> {
    match pb::CaptchaMode::try_from(v).ok()? {
        pb::CaptchaMode::Unspecified | pb::CaptchaMode::None => Some(CaptchaMode::None),
        pb::CaptchaMode::ProofOfWork => Some(CaptchaMode::ProofOfWork),
        pb::CaptchaMode::Turnstile => Some(CaptchaMode::Turnstile),
        pb::CaptchaMode::Recaptcha => Some(CaptchaMode::Recaptcha),
        pb::CaptchaMode::Hcaptcha => Some(CaptchaMode::Hcaptcha),
    }
}

fn captcha_to_proto(m: CaptchaMode) -> pb::CaptchaMode {
    match m {
        CaptchaMode::None => pb::CaptchaMode::None,
        CaptchaMode::ProofOfWork => pb::CaptchaMode::ProofOfWork,
        CaptchaMode::Turnstile => pb::CaptchaMode::Turnstile,
        CaptchaMode::Recaptcha => pb::CaptchaMode::Recaptcha,
        CaptchaMode::Hcaptcha => pb::CaptchaMode::Hcaptcha,
    }
}

fn duplicate_from_proto(v: i32) -> Option<DuplicatePolicy> {
    match pb::DuplicatePolicy::try_from(v).ok()? {
        pb::DuplicatePolicy::Unspecified | pb::DuplicatePolicy::Allow => {
            Some(DuplicatePolicy::Allow)
        }
        pb::DuplicatePolicy::Merge => Some(DuplicatePolicy::Merge),
        pb::DuplicatePolicy::Suppress => Some(DuplicatePolicy::Suppress),
    }
}

fn duplicate_to_proto(p: DuplicatePolicy) -> pb::DuplicatePolicy {
    match p {
        DuplicatePolicy::Allow => pb::DuplicatePolicy::Allow,
        DuplicatePolicy::Merge => pb::DuplicatePolicy::Merge,
        DuplicatePolicy::Suppress => pb::DuplicatePolicy::Suppress,
    }
}

fn settings_from_proto(
    s: Option<&pb::ProductSettings>,
    out: &mut Vec<Violation>,
) -> ProductSettings {
    let Some(s) = s else {
        return ProductSettings::default();
    };
    let captcha_mode = captcha_from_proto(s.captcha_mode).unwrap_or_else(|| {
        out.push(Violation::new(
            "settings.captchaMode",
            format!(
                "unknown captcha mode {}; expected NONE, PROOF_OF_WORK, TURNSTILE, RECAPTCHA or HCAPTCHA",
                s.captcha_mode
            ),
        ));
        CaptchaMode::None
    });
    let duplicate_policy = duplicate_from_proto(s.duplicate_policy).unwrap_or_else(|| {
        out.push(Violation::new(
            "settings.duplicatePolicy",
            format!(
                "unknown duplicate policy {}; expected ALLOW, MERGE or SUPPRESS",
                s.duplicate_policy
            ),
        ));
        DuplicatePolicy::Allow
    });
    ProductSettings {
        captcha_mode,
        captcha_site_key: s.captcha_site_key.clone(),
        allowed_origins: s.allowed_origins.clone(),
        duplicate_policy,
        duplicate_key_fields: s.duplicate_key_fields.clone(),
        duplicate_window_hours: s.duplicate_window_hours,
    }
}

fn settings_to_proto(s: &ProductSettings) -> pb::ProductSettings {
    pb::ProductSettings {
        captcha_mode: captcha_to_proto(s.captcha_mode) as i32,
        captcha_site_key: s.captcha_site_key.clone(),
        allowed_origins: s.allowed_origins.clone(),
        duplicate_policy: duplicate_to_proto(s.duplicate_policy) as i32,
        duplicate_key_fields: s.duplicate_key_fields.clone(),
        duplicate_window_hours: s.duplicate_window_hours,
    }
}

fn dictionaries_from_proto(
    d: &HashMap<String, pb::Dictionary>,
) -> BTreeMap<String, Vec<DictionaryEntry>> {
    d.iter()
        .map(|(name, dict)| {
            let entries = dict
                .entries
                .iter()
                .map(|e| DictionaryEntry {
                    value: e.value.clone(),
                    label: e.label.clone(),
                })
                .collect();
            (name.clone(), entries)
        })
        .collect()
}

fn dictionaries_to_proto(
    d: &BTreeMap<String, Vec<DictionaryEntry>>,
) -> HashMap<String, pb::Dictionary> {
    d.iter()
        .map(|(name, entries)| {
            let entries = entries
                .iter()
                .map(|e| pb::DictionaryEntry {
                    value: e.value.clone(),
                    label: e.label.clone(),
                })
                .collect();
            (name.clone(), pb::Dictionary { entries })
        })
        .collect()
}

fn struct_to_json(s: Option<&prost_types::Struct>) -> Option<Value> {
    s.map(|s| Value::Object(json::from_struct(s)))
}

fn json_to_struct(v: &Value) -> Option<prost_types::Struct> {
    json::to_struct_opt(v)
}

/// A product from a create or update request.
pub fn product_input(p: &pb::Product) -> ProductInput {
    let mut conversion_violations = Vec::new();
    let settings = settings_from_proto(p.settings.as_ref(), &mut conversion_violations);
    let scoring_rules = match &p.scoring_rules {
        Some(r) => lms_scoring::from_proto(r, "scoringRules"),
        None => Ok(lms_scoring::ScoringRules::default()),
    };
    ProductInput {
        product_code: p.product_code.clone(),
        name: p.name.clone(),
        form_schema: struct_to_json(p.form_schema.as_ref()),
        dictionaries: dictionaries_from_proto(&p.dictionaries),
        scoring_rules,
        settings,
        styling: struct_to_json(p.styling.as_ref()),
        conversion_violations,
    }
}

/// A stored version as a proto product.
pub fn product(p: &StoredProduct) -> pb::Product {
    let c = &p.content;
    pb::Product {
        id: p.id.clone(),
        product_code: p.product_code.clone(),
        name: c.name.clone(),
        form_schema: json_to_struct(&c.form_schema),
        dictionaries: dictionaries_to_proto(&c.dictionaries),
        scoring_rules: Some(lms_scoring::to_proto(&c.scoring_rules)),
        settings: Some(settings_to_proto(&c.settings)),
        styling: json_to_struct(&c.styling),
        version: p.version,
        config_hash: p.config_hash.clone(),
        create_time: Some(timestamp(p.created_at)),
        update_time: Some(timestamp(p.updated_at)),
        updated_by: p.updated_by.clone(),
    }
}

/// A render package as its proto response.
pub fn render_package(r: RenderPackage) -> pb::GetRenderPackageResponse {
    pb::GetRenderPackageResponse {
        product_code: r.product_code,
        version: r.version,
        config_hash: r.config_hash,
        form_schema: json_to_struct(&r.form_schema),
        dictionaries: dictionaries_to_proto(&r.dictionaries),
        styling: json_to_struct(&r.styling),
        captcha: Some(pb::CaptchaConfig {
            enabled: r.captcha.enabled,
            mode: captcha_to_proto(r.captcha.mode) as i32,
            site_key: r.captcha.site_key,
        }),
        signature: r.signature,
        signature_expire_time: Some(timestamp(r.signature_expires_at)),
    }
}

/// The verification keys as their proto response.
pub fn verification_keys(v: &VerificationKeys) -> pb::GetFormVerificationKeysResponse {
    pb::GetFormVerificationKeysResponse {
        keys: v
            .keys
            .keys()
            .iter()
            .map(|k| pb::FormVerificationKey {
                kid: k.kid().to_string(),
                key: k.secret().to_vec(),
            })
            .collect(),
        token_ttl_seconds: v.token_ttl_secs,
    }
}

/// A verified token as its proto response.
pub fn verified_token(v: VerifiedToken) -> pb::VerifyFormTokenResponse {
    pb::VerifyFormTokenResponse {
        product_code: v.claims.product_code,
        version: v.claims.version,
        config_hash: v.claims.config_hash,
        issue_time: Some(timestamp(v.issued_at)),
        expire_time: Some(timestamp(v.expires_at)),
        nonce: v.claims.nonce,
        kid: v.kid,
    }
}
