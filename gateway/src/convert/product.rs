//! config shapes: the product (with settings, dictionaries and scoring rules) and the
//! public render package.

use super::{enums, time};
use crate::body::Fields;
use crate::error::RestError;
use lms_platform::json as pjson;
use lms_proto::config::v1 as pb;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Reads a product body (create and update). `id`, `configHash`, `createdAt` and
/// `updatedAt` are the server's and are ignored; `version` is the optimistic-concurrency
/// check of an update.
pub fn product_from_json(f: &mut Fields) -> pb::Product {
    for ignored in ["id", "configHash", "createdAt", "updatedAt"] {
        let _ = f.value(ignored);
    }
    let form_schema = f.object("formSchema").map(|m| pjson::to_struct(&m));
    let styling = f.object("styling").map(|m| pjson::to_struct(&m));
    let dictionaries = f
        .object("dictionaries")
        .map(|m| dictionaries_from_json(f, m))
        .unwrap_or_default();
    let scoring_rules = f.value("scoringRules").and_then(|v| {
        match lms_scoring::from_json(&v, &f.path("scoringRules")) {
            Ok(rules) => Some(lms_scoring::to_proto(&rules)),
            Err(violations) => {
                f.extend(violations);
                None
            }
        }
    });
    let settings = f.object("settings").map(|m| {
        let mut s = Fields::new(m, &f.path("settings"));
        let out = settings_from_json(&mut s);
        f.absorb(s);
        out
    });
    pb::Product {
        product_code: f.string("productCode").unwrap_or_default(),
        name: f.string("name").unwrap_or_default(),
        form_schema,
        dictionaries,
        scoring_rules,
        settings,
        styling,
        version: f.i32("version").unwrap_or_default(),
        ..Default::default()
    }
}

fn dictionaries_from_json(
    f: &mut Fields,
    m: Map<String, Value>,
) -> HashMap<String, pb::Dictionary> {
    let base = f.path("dictionaries");
    let mut out = HashMap::with_capacity(m.len());
    for (name, entries) in m {
        let path = format!("{base}.{name}");
        let Some(items) = entries.as_array() else {
            f.fail(
                path,
                format!(
                    "must be an array of {{value, label}}, got {}",
                    crate::body::kind(&entries)
                ),
            );
            continue;
        };
        let mut dict = pb::Dictionary::default();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(obj) = item.as_object() else {
                f.fail(item_path, "must be an object {value, label}");
                continue;
            };
            let mut e = Fields::new(obj.clone(), &item_path);
            let value = e.string("value");
            let label = e.string("label");
            if value.is_none() && !e.has("value") {
                let p = e.path("value");
                e.fail(p, "is required");
            }
            let value = value.unwrap_or_default();
            dict.entries.push(pb::DictionaryEntry {
                label: label.unwrap_or_else(|| value.clone()),
                value,
            });
            f.absorb(e);
        }
        out.insert(name, dict);
    }
    out
}

fn settings_from_json(s: &mut Fields) -> pb::ProductSettings {
    pb::ProductSettings {
        captcha_mode: s
            .enumeration(
                "captchaMode",
                enums::captcha::parse,
                &enums::captcha::expected(),
            )
            .unwrap_or_default(),
        captcha_site_key: s.string("captchaSiteKey").unwrap_or_default(),
        allowed_origins: s.strings("allowedOrigins").unwrap_or_default(),
        duplicate_policy: s
            .enumeration(
                "duplicatePolicy",
                enums::duplicate::parse,
                &enums::duplicate::expected(),
            )
            .unwrap_or_default(),
        duplicate_key_fields: s.strings("duplicateKeyFields").unwrap_or_default(),
        duplicate_window_hours: s.i32("duplicateWindowHours").unwrap_or_default(),
    }
}

fn dictionaries_json(d: &HashMap<String, pb::Dictionary>) -> Value {
    let mut names: Vec<&String> = d.keys().collect();
    names.sort();
    let mut out = Map::with_capacity(d.len());
    for name in names {
        let entries: Vec<Value> = d[name]
            .entries
            .iter()
            .map(|e| json!({"value": e.value, "label": e.label}))
            .collect();
        out.insert(name.clone(), Value::Array(entries));
    }
    Value::Object(out)
}

fn settings_json(s: Option<&pb::ProductSettings>) -> Value {
    let d = pb::ProductSettings::default();
    let s = s.unwrap_or(&d);
    json!({
        "captchaMode": enums::captcha::name(s.captcha_mode).unwrap_or("NONE"),
        "captchaSiteKey": s.captcha_site_key,
        "allowedOrigins": s.allowed_origins,
        "duplicatePolicy": enums::duplicate::name(s.duplicate_policy).unwrap_or("ALLOW"),
        "duplicateKeyFields": s.duplicate_key_fields,
        "duplicateWindowHours": s.duplicate_window_hours,
    })
}

/// The product JSON: `{id, productCode, name, formSchema, dictionaries, scoringRules,
/// settings, styling, version, configHash, createdAt, updatedAt}`.
pub fn product_json(p: &pb::Product) -> Result<Value, RestError> {
    let scoring = match &p.scoring_rules {
        None => Value::Null,
        Some(r) => {
            let rules = lms_scoring::from_proto(r, "scoringRules")
                .map_err(|_| RestError::bad_upstream("product scoring rules"))?;
            serde_json::to_value(&rules).map_err(|_| RestError::bad_upstream("scoring rules"))?
        }
    };
    Ok(json!({
        "id": p.id,
        "productCode": p.product_code,
        "name": p.name,
        "formSchema": pjson::from_struct_opt(p.form_schema.as_ref()),
        "dictionaries": dictionaries_json(&p.dictionaries),
        "scoringRules": scoring,
        "settings": settings_json(p.settings.as_ref()),
        "styling": pjson::from_struct_opt(p.styling.as_ref()),
        "version": p.version,
        "configHash": p.config_hash,
        "createdAt": time::json(p.create_time.as_ref()),
        "updatedAt": time::json(p.update_time.as_ref()),
    }))
}

/// The render package JSON: `{productCode, version, configHash, formSchema, dictionaries,
/// styling, captcha: {enabled, mode, siteKey}, signature, signatureExpiresAt}`.
pub fn render_package_json(r: &pb::GetRenderPackageResponse) -> Value {
    let c = r.captcha.clone().unwrap_or_default();
    json!({
        "productCode": r.product_code,
        "version": r.version,
        "configHash": r.config_hash,
        "formSchema": pjson::from_struct_opt(r.form_schema.as_ref()),
        "dictionaries": dictionaries_json(&r.dictionaries),
        "styling": pjson::from_struct_opt(r.styling.as_ref()),
        "captcha": {
            "enabled": c.enabled,
            "mode": enums::captcha::name(c.mode).unwrap_or("NONE"),
            "siteKey": c.site_key,
        },
        "signature": r.signature,
        "signatureExpiresAt": time::json(r.signature_expire_time.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: Value) -> (pb::Product, Vec<String>) {
        let mut f = Fields::new(body.as_object().cloned().unwrap_or_default(), "");
        let p = product_from_json(&mut f);
        let v = f.into_violations().into_iter().map(|v| v.field).collect();
        (p, v)
    }

    #[test]
    fn a_full_product_round_trips() {
        let body = json!({
            "productCode": "LOAN_1", "name": "Loans",
            "formSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
            "dictionaries": {"cities": [{"value": "PUNE", "label": "Pune"}]},
            "scoringRules": {"rules": [{"id": "r1", "field": "city", "operator": "EQUALS",
                "value": "PUNE", "points": 20, "reason": "home"}],
                "priorityBands": [{"minScore": 10, "priority": "HIGH"}], "defaultPriority": "LOW"},
            "settings": {"captchaMode": "NONE", "captchaSiteKey": "", "allowedOrigins": ["https://a.example"],
                "duplicatePolicy": "ALLOW", "duplicateKeyFields": [], "duplicateWindowHours": 24},
            "styling": {"primaryColor": "#123456"},
            "id": "ignored", "configHash": "ignored", "version": 3
        });
        let (p, v) = read(body.clone());
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(p.version, 3);
        let out = product_json(&p).unwrap_or_default();
        for key in [
            "productCode",
            "name",
            "formSchema",
            "dictionaries",
            "scoringRules",
            "settings",
            "styling",
        ] {
            assert_eq!(out[key], body[key], "{key}");
        }
    }

    #[test]
    fn bad_operator_enum_and_types_are_named() {
        let (_, v) = read(json!({
            "scoringRules": {"rules": [{"id": "r1", "field": "f", "operator": "LIKE", "value": 1, "points": 1, "reason": ""}]},
            "settings": {"captchaMode": "MAYBE", "colour": 1},
            "dictionaries": {"d": [{"value": 5}]},
            "formSchema": []
        }));
        assert!(
            v.contains(&"scoringRules.rules[0].operator".to_string()),
            "{v:?}"
        );
        assert!(v.contains(&"settings.captchaMode".to_string()));
        assert!(v.contains(&"settings.colour".to_string()));
        assert!(v.contains(&"dictionaries.d[0].value".to_string()));
        assert!(v.contains(&"formSchema".to_string()));
    }
}
