//! A product in the REST JSON shape (`productCode`, `formSchema`, `scoringRules`, ...) as
//! the `lms.config.v1.Product` message, for the config and lead tests. Written apart
//! from the gateway's converter on purpose: a test oracle must not share the code it
//! checks.

#![allow(clippy::cast_possible_truncation)]

use lms_platform::json;
use lms_proto::common::v1::LeadPriority;
use lms_proto::config::v1 as cfg;
use serde_json::Value;

/// Builds a proto product from the REST JSON shape. Enums are mapped by name, without
/// `lms-scoring` or the gateway's converter, so tests do not share the code under test.
pub fn product(code: &str, v: &Value) -> cfg::Product {
    let obj = v.as_object().cloned().unwrap_or_default();
    let get = |k: &str| obj.get(k).cloned().unwrap_or(Value::Null);
    let dictionaries = get("dictionaries")
        .as_object()
        .map(|d| {
            d.iter()
                .map(|(name, entries)| {
                    let entries = entries
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| cfg::DictionaryEntry {
                            value: e["value"].as_str().unwrap_or_default().to_string(),
                            label: e["label"].as_str().unwrap_or_default().to_string(),
                        })
                        .collect();
                    (name.clone(), cfg::Dictionary { entries })
                })
                .collect()
        })
        .unwrap_or_default();
    let rules = get("scoringRules");
    let scoring_rules = (!rules.is_null()).then(|| scoring(&rules));
    let s = get("settings");
    let strings = |k: &str| -> Vec<String> {
        s[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let settings = cfg::ProductSettings {
        captcha_mode: s["captchaMode"]
            .as_str()
            .and_then(|m| cfg::CaptchaMode::from_str_name(&format!("CAPTCHA_MODE_{m}")))
            .map(|m| m as i32)
            .unwrap_or_else(|| s["captchaMode"].as_i64().unwrap_or(0) as i32),
        captcha_site_key: s["captchaSiteKey"].as_str().unwrap_or_default().to_string(),
        allowed_origins: strings("allowedOrigins"),
        duplicate_policy: s["duplicatePolicy"]
            .as_str()
            .and_then(|m| cfg::DuplicatePolicy::from_str_name(&format!("DUPLICATE_POLICY_{m}")))
            .map(|m| m as i32)
            .unwrap_or(0),
        duplicate_key_fields: strings("duplicateKeyFields"),
        duplicate_window_hours: s["duplicateWindowHours"].as_i64().unwrap_or(0) as i32,
    };
    cfg::Product {
        product_code: code.to_string(),
        name: get("name").as_str().unwrap_or_default().to_string(),
        form_schema: json::to_struct_opt(&get("formSchema")),
        dictionaries,
        scoring_rules,
        settings: Some(settings),
        styling: json::to_struct_opt(&get("styling")),
        version: get("version").as_i64().unwrap_or(0) as i32,
        ..Default::default()
    }
}

fn priority(v: &Value) -> i32 {
    v.as_str()
        .and_then(|p| LeadPriority::from_str_name(&format!("LEAD_PRIORITY_{p}")))
        .map(|p| p as i32)
        .unwrap_or(0)
}

fn scoring(v: &Value) -> cfg::ScoringRules {
    cfg::ScoringRules {
        rules: v["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| cfg::ScoringRule {
                id: r["id"].as_str().unwrap_or_default().to_string(),
                field: r["field"].as_str().unwrap_or_default().to_string(),
                operator: r["operator"]
                    .as_str()
                    .and_then(|o| {
                        cfg::ScoringOperator::from_str_name(&format!("SCORING_OPERATOR_{o}"))
                    })
                    .map(|o| o as i32)
                    .unwrap_or(0),
                value: (!r["value"].is_null()).then(|| json::to_value(&r["value"])),
                points: r["points"].as_i64().unwrap_or(0) as i32,
                reason: r["reason"].as_str().unwrap_or_default().to_string(),
            })
            .collect(),
        priority_bands: v["priorityBands"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| cfg::PriorityBand {
                min_score: b["minScore"].as_i64().unwrap_or(0) as i32,
                priority: priority(&b["priority"]),
            })
            .collect(),
        default_priority: priority(&v["defaultPriority"]),
    }
}
