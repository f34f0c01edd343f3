//! The checks a product must pass on save. Every problem is collected, with its REST
//! field path, so one INVALID_ARGUMENT lists them all.

use super::schema;
use super::{
    DEFAULT_DUPLICATE_WINDOW_HOURS, Dictionaries, DictionaryEntry, DuplicatePolicy, ProductContent,
    ProductSettings,
};
use lms_platform::Violation;
use lms_scoring::ScoringRules;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Longest product name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most dictionaries in a product.
pub const MAX_DICTIONARIES: usize = 200;
/// Most entries in one dictionary.
pub const MAX_DICTIONARY_ENTRIES: usize = 5_000;
/// Longest dictionary value or label, in characters.
pub const MAX_ENTRY_CHARS: usize = 500;
/// Largest styling object, in bytes of compact JSON.
pub const MAX_STYLING_BYTES: usize = 64 * 1024;
/// Most allowed origins.
pub const MAX_ORIGINS: usize = 100;
/// Longest captcha site key, in characters.
pub const MAX_SITE_KEY_CHARS: usize = 200;
/// Longest duplicate window, in hours (a year).
pub const MAX_WINDOW_HOURS: i32 = 8_760;

/// A product as submitted, before any check. Built by `convert` from the request.
#[derive(Debug, Clone)]
pub struct ProductInput {
    /// The product code.
    pub product_code: String,
    /// Display name.
    pub name: String,
    /// The form's JSON Schema; `None` when the request carried none.
    pub form_schema: Option<Value>,
    /// Option lists, by name.
    pub dictionaries: BTreeMap<String, Vec<DictionaryEntry>>,
    /// The rule set, or the violations found while reading it from the request.
    pub scoring_rules: Result<ScoringRules, Vec<Violation>>,
    /// Settings, with unset enums already defaulted.
    pub settings: ProductSettings,
    /// Styling hints; `None` when absent (stored as `{}`).
    pub styling: Option<Value>,
    /// Problems found while converting the request (e.g. an unknown enum number).
    pub conversion_violations: Vec<Violation>,
}

/// Checks a product code: `^[A-Z0-9_-]{2,40}$`.
pub fn validate_product_code(code: &str) -> Option<Violation> {
    let ok = (2..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    (!ok).then(|| {
        Violation::new(
            "productCode",
            "must be 2 to 40 characters of A-Z, 0-9, '_' or '-'",
        )
    })
}

/// Checks a product and returns its code and the content to store, or every violation.
pub fn validate_product(input: ProductInput) -> Result<(String, ProductContent), Vec<Violation>> {
    let mut out = input.conversion_violations;
    out.extend(validate_product_code(&input.product_code));

    let name = input.name.trim().to_string();
    let name_chars = name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        out.push(Violation::new(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }

    dictionaries(&input.dictionaries, &mut out);
    let names: BTreeSet<String> = input.dictionaries.keys().cloned().collect();

    let form_schema = input.form_schema.unwrap_or(Value::Null);
    if form_schema.is_null() {
        out.push(Violation::new("formSchema", "is required"));
    } else {
        out.extend(schema::check(&form_schema, &names));
    }
    let fields = schema::top_level_properties(&form_schema);

    match &input.scoring_rules {
        Ok(rules) => {
            if let Err(v) = rules.validate("scoringRules", Some(&fields)) {
                out.extend(v);
            }
        }
        Err(v) => out.extend(v.iter().cloned()),
    }

    let settings = settings(input.settings, &fields, &mut out);

    let styling = input
        .styling
        .unwrap_or_else(|| Value::Object(Default::default()));
    if !styling.is_object() {
        out.push(Violation::new("styling", "must be a JSON object"));
    } else {
        let size = serde_json::to_vec(&styling)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_STYLING_BYTES {
            out.push(Violation::new(
                "styling",
                format!("is {size} bytes; at most {MAX_STYLING_BYTES} are allowed"),
            ));
        }
    }

    match (out.is_empty(), input.scoring_rules) {
        (true, Ok(scoring_rules)) => Ok((
            input.product_code,
            ProductContent {
                name,
                form_schema,
                dictionaries: input.dictionaries,
                scoring_rules,
                settings,
                styling,
            },
        )),
        _ => Err(out),
    }
}

fn dictionary_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn dictionaries(dicts: &Dictionaries, out: &mut Vec<Violation>) {
    if dicts.len() > MAX_DICTIONARIES {
        out.push(Violation::new(
            "dictionaries",
            format!("at most {MAX_DICTIONARIES} dictionaries are allowed"),
        ));
    }
    for (name, entries) in dicts {
        let path = format!("dictionaries.{name}");
        if !dictionary_name_ok(name) {
            out.push(Violation::new(
                &path,
                "the name must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'",
            ));
        }
        if entries.len() > MAX_DICTIONARY_ENTRIES {
            out.push(Violation::new(
                &path,
                format!(
                    "has {} entries; at most {MAX_DICTIONARY_ENTRIES} are allowed",
                    entries.len()
                ),
            ));
            continue;
        }
        let mut seen = BTreeSet::new();
        for (i, e) in entries.iter().enumerate() {
            let value_chars = e.value.chars().count();
            if value_chars == 0 || value_chars > MAX_ENTRY_CHARS {
                out.push(Violation::new(
                    format!("{path}[{i}].value"),
                    format!("must be 1 to {MAX_ENTRY_CHARS} characters"),
                ));
            } else if !seen.insert(e.value.as_str()) {
                out.push(Violation::new(
                    format!("{path}[{i}].value"),
                    format!("\"{}\" appears more than once in the dictionary", e.value),
                ));
            }
            if e.label.chars().count() > MAX_ENTRY_CHARS {
                out.push(Violation::new(
                    format!("{path}[{i}].label"),
                    format!("must be at most {MAX_ENTRY_CHARS} characters"),
                ));
            }
        }
    }
}

fn settings(
    mut s: ProductSettings,
    fields: &BTreeSet<String>,
    out: &mut Vec<Violation>,
) -> ProductSettings {
    let key = &s.captcha_site_key;
    if key.chars().count() > MAX_SITE_KEY_CHARS || key.chars().any(|c| c.is_control() || c == ' ') {
        out.push(Violation::new(
            "settings.captchaSiteKey",
            format!("must be at most {MAX_SITE_KEY_CHARS} printable characters without spaces"),
        ));
    } else if s.captcha_mode.needs_site_key() && key.is_empty() {
        out.push(Violation::new(
            "settings.captchaSiteKey",
            "is required for an external captcha provider",
        ));
    }

    if s.allowed_origins.len() > MAX_ORIGINS {
        out.push(Violation::new(
            "settings.allowedOrigins",
            format!("at most {MAX_ORIGINS} origins are allowed"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, o) in s.allowed_origins.iter().enumerate() {
        let path = format!("settings.allowedOrigins[{i}]");
        if let Err(why) = check_origin(o) {
            out.push(Violation::new(path, why));
        } else if !seen.insert(o.as_str()) {
            out.push(Violation::new(path, "appears more than once"));
        }
    }

    let mut seen = BTreeSet::new();
    for (i, f) in s.duplicate_key_fields.iter().enumerate() {
        let path = format!("settings.duplicateKeyFields[{i}]");
        if !fields.contains(f) {
            out.push(Violation::new(
                path,
                format!("\"{f}\" is not a property of formSchema"),
            ));
        } else if !seen.insert(f.as_str()) {
            out.push(Violation::new(path, "appears more than once"));
        }
    }
    if s.duplicate_policy != DuplicatePolicy::Allow && s.duplicate_key_fields.is_empty() {
        out.push(Violation::new(
            "settings.duplicateKeyFields",
            "must name at least one field when duplicates are merged or suppressed",
        ));
    }

    if s.duplicate_window_hours == 0 {
        s.duplicate_window_hours = DEFAULT_DUPLICATE_WINDOW_HOURS;
    } else if !(1..=MAX_WINDOW_HOURS).contains(&s.duplicate_window_hours) {
        out.push(Violation::new(
            "settings.duplicateWindowHours",
            format!("must be between 1 and {MAX_WINDOW_HOURS} (0 means {DEFAULT_DUPLICATE_WINDOW_HOURS})"),
        ));
    }
    s
}

/// Checks a browser origin as the `Origin` header carries it: `http` or `https`, a
/// lower-case host name or IP literal, an optional non-default port, and nothing else.
pub fn check_origin(origin: &str) -> Result<(), &'static str> {
    const SHAPE: &str = "must be an origin like https://example.com or http://localhost:3000 \
                         (scheme://host[:port], no path, query or trailing slash)";
    let (scheme, rest) = origin.split_once("://").ok_or(SHAPE)?;
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return Err("must use the http or https scheme (lower case)"),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or(SHAPE)?;
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(SHAPE);
        }
        if addr.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("must be lower case, as browsers send it");
        }
        match after {
            "" => (addr, None),
            p => (addr, Some(p.strip_prefix(':').ok_or(SHAPE)?)),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if rest.starts_with('[') {
        // IPv6 literal already checked.
    } else {
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("must be lower case, as browsers send it");
        }
        let labels_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if !labels_ok {
            return Err(SHAPE);
        }
    }
    if let Some(p) = port {
        let valid = !p.is_empty()
            && p.len() <= 5
            && !p.starts_with('0')
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65_535).contains(&n));
        if !valid {
            return Err(SHAPE);
        }
        if p == default_port {
            return Err("must omit the scheme's default port, as browsers do");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CaptchaMode;
    use serde_json::json;

    fn input() -> ProductInput {
        ProductInput {
            product_code: "HOME_LOAN".into(),
            name: " Home loan ".into(),
            form_schema: Some(json!({"type": "object", "properties": {
                "city": {"type": "string", "x-dictionary": "cities"},
                "age": {"type": "integer"}
            }})),
            dictionaries: [(
                "cities".to_string(),
                vec![DictionaryEntry {
                    value: "HN".into(),
                    label: "Ha Noi".into(),
                }],
            )]
            .into_iter()
            .collect(),
            scoring_rules: Ok(ScoringRules::default()),
            settings: ProductSettings {
                duplicate_window_hours: 0,
                ..ProductSettings::default()
            },
            styling: None,
            conversion_violations: vec![],
        }
    }

    fn fields(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn a_valid_product_is_normalised() {
        let (code, c) = validate_product(input()).unwrap();
        assert_eq!(code, "HOME_LOAN");
        assert_eq!(c.name, "Home loan");
        assert_eq!(c.styling, json!({}));
        assert_eq!(c.settings.duplicate_window_hours, 24);
    }

    #[test]
    fn product_codes() {
        for ok in ["AB", "HOME_LOAN-2", &"A".repeat(40)] {
            assert_eq!(validate_product_code(ok), None, "{ok}");
        }
        for bad in ["A", "home", "A B", "ÄB", &"A".repeat(41), "", "AB.C"] {
            assert!(validate_product_code(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn every_violation_is_collected() {
        let mut i = input();
        i.product_code = "x".into();
        i.name = "  ".into();
        i.dictionaries.insert(
            "bad name".into(),
            vec![
                DictionaryEntry {
                    value: "a".into(),
                    label: "A".into(),
                },
                DictionaryEntry {
                    value: "a".into(),
                    label: "A".into(),
                },
                DictionaryEntry {
                    value: "".into(),
                    label: "B".into(),
                },
            ],
        );
        i.settings.allowed_origins = vec!["https://ok.example".into(), "ftp://x".into()];
        i.settings.duplicate_policy = DuplicatePolicy::Merge;
        i.settings.duplicate_key_fields = vec!["nope".into()];
        i.settings.duplicate_window_hours = -1;
        i.settings.captcha_mode = CaptchaMode::Turnstile;
        i.styling = Some(json!([1]));
        let v = validate_product(i).unwrap_err();
        assert_eq!(
            fields(&v),
            vec![
                "productCode",
                "name",
                "dictionaries.bad name",
                "dictionaries.bad name[1].value",
                "dictionaries.bad name[2].value",
                "settings.captchaSiteKey",
                "settings.allowedOrigins[1]",
                "settings.duplicateKeyFields[0]",
                "settings.duplicateWindowHours",
                "styling",
            ]
        );
    }

    #[test]
    fn missing_schema_and_conversion_problems() {
        let mut i = input();
        i.form_schema = None;
        i.scoring_rules = Err(vec![Violation::new("scoringRules.rules[0].operator", "x")]);
        i.conversion_violations = vec![Violation::new("settings.captchaMode", "y")];
        let v = validate_product(i).unwrap_err();
        assert_eq!(
            fields(&v),
            vec![
                "settings.captchaMode",
                "formSchema",
                "scoringRules.rules[0].operator"
            ]
        );
    }

    #[test]
    fn origins() {
        for ok in [
            "https://example.com",
            "http://localhost:3000",
            "https://a-b.example.co.uk:8443",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(check_origin(ok), Ok(()), "{ok}");
        }
        for bad in [
            "https://example.com/",
            "https://example.com/path",
            "https://Example.com",
            "HTTPS://example.com",
            "ftp://example.com",
            "example.com",
            "https://",
            "https://exa mple.com",
            "https://example.com:443",
            "https://example.com:0",
            "https://example.com:99999",
            "https://user@example.com",
            "https://example.com?x=1",
            "https://-a.com",
            "null",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
