//! Every check on save surfaces as a violation with its REST path, all in one error.

use crate::helpers::*;
use lms_proto::config::v1 as pb;
use serde_json::{Value, json};
use tonic::Code;

async fn violations(app: &App, v: &Value) -> Vec<String> {
    let err = create_err(app, "PRODUCT", v).await;
    assert_status(&err, Code::InvalidArgument, "PRODUCT_INVALID");
    fields(&err)
}

#[tokio::test]
async fn schema_problems_say_where() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let mut c = content();
        set(
            &mut c,
            "formSchema",
            json!({"type": "object", "properties": {
                "age": {"type": "integr"},
                "name": {"type": "string", "minLength": -1},
                "city": {"type": "string", "x-dictionary": "towns"}
            }}),
        );
        let f = violations(&app, &c).await;
        for want in [
            "formSchema.properties.age.type",
            "formSchema.properties.name.minLength",
            "formSchema.properties.city.x-dictionary",
        ] {
            assert!(f.contains(&want.to_string()), "{want} missing from {f:?}");
        }
        let err = create_err(&app, "PRODUCT", &c).await;
        let age = lms_platform::ApiError::from_status(&err)
            .violations
            .into_iter()
            .find(|v| v.field == "formSchema.properties.age.type")
            .unwrap();
        assert!(age.description.contains("integr"), "{age:?}");

        // The top level must be an object of fields.
        set(&mut c, "formSchema", json!({"type": "array", "items": {}}));
        assert_eq!(
            violations(&app, &c).await,
            vec![
                "formSchema.type",
                "formSchema.properties",
                "scoringRules.rules[0].field"
            ]
        );
        // A missing schema.
        set(&mut c, "formSchema", Value::Null);
        assert!(
            violations(&app, &c)
                .await
                .contains(&"formSchema".to_string())
        );
        // A bad regex pattern does not compile.
        set(
            &mut c,
            "formSchema",
            json!({"type": "object", "properties": {
                "city": {"type": "string", "x-dictionary": "cities", "pattern": "(["}
            }}),
        );
        let f = violations(&app, &c).await;
        assert!(f.iter().any(|p| p.starts_with("formSchema")), "{f:?}");
        // An unknown draft.
        set(
            &mut c,
            "formSchema",
            json!({"$schema": "https://example.com/my-draft", "type": "object",
                   "properties": {"city": {"type": "string"}}}),
        );
        assert_eq!(violations(&app, &c).await, vec!["formSchema.$schema"]);
        // Draft 7 is honoured when named.
        set(
            &mut c,
            "formSchema",
            json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                   "properties": {"city": {"type": "string", "x-dictionary": "cities"}}}),
        );
        create(&app, "DRAFT7", &c).await;
    }
}

#[tokio::test]
async fn schema_limits() {
    let app = App::spawn(lms_testkit::Backend::Sqlite).await;
    let mut c = content();
    let many: serde_json::Map<String, Value> = (0..501)
        .map(|i| (format!("f{i}"), json!({"type": "string"})))
        .collect();
    set(
        &mut c,
        "formSchema",
        json!({"type": "object", "properties": many}),
    );
    set(&mut c, "scoringRules", json!({}));
    set(&mut c, "dictionaries", json!({}));
    assert_eq!(violations(&app, &c).await, vec!["formSchema.properties"]);
    set(
        &mut c,
        "formSchema",
        json!({"type": "object", "properties": {}, "description": "x".repeat(256 * 1024)}),
    );
    assert_eq!(violations(&app, &c).await, vec!["formSchema"]);
    set(
        &mut c,
        "formSchema",
        json!({"type": "object", "properties": {}}),
    );
    set(&mut c, "styling", json!({"css": "x".repeat(64 * 1024)}));
    assert_eq!(violations(&app, &c).await, vec!["styling"]);
}

#[tokio::test]
async fn product_code_and_name() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        for bad in [
            "",
            "A",
            "lower",
            "A B",
            "ÄÖ",
            "AB.CD",
            "AB/CD",
            &"A".repeat(41),
        ] {
            let err = create_err(&app, bad, &content()).await;
            assert_status(&err, Code::InvalidArgument, "PRODUCT_INVALID");
            assert_eq!(fields(&err), vec!["productCode"], "{bad}");
        }
        for good in ["AB", "A-B_9", &"Z".repeat(40)] {
            assert_eq!(create(&app, good, &content()).await.product_code, good);
        }
        let mut c = content();
        set(&mut c, "name", json!("   "));
        assert_eq!(violations(&app, &c).await, vec!["name"]);
        set(&mut c, "name", json!("x".repeat(201)));
        assert_eq!(violations(&app, &c).await, vec!["name"]);
    }
}

#[tokio::test]
async fn every_scoring_problem_has_a_path() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let mut c = content();
        let rule = |id: &str, field: &str, op: &str, value: Value, points: i64| {
            json!({"id": id, "field": field, "operator": op, "value": value,
                   "points": points, "reason": "r"})
        };
        set(
            &mut c,
            "scoringRules",
            json!({
                "rules": [
                    rule("ok", "city", "EQUALS", json!("HN"), 5),
                    rule("", "city", "EQUALS", json!("HN"), 5),          // 1 empty id
                    rule("ok", "city", "EQUALS", json!("HN"), 5),        // 2 duplicate id
                    rule("f", "nope", "EXISTS", Value::Null, 5),         // 3 unknown field
                    rule("g", "age", "GT", json!("abc"), 5),             // 4 wrong value type
                    rule("h", "city", "MATCHES", json!("(["), 5),        // 5 bad regex
                    rule("i", "age", "BETWEEN", json!([10]), 5),         // 6 bad range
                    rule("j", "city", "IN", json!([]), 5),               // 7 empty list
                    rule("k", "age", "GTE", json!(18), 5000),            // 8 points out of range
                    json!({"id": "l", "field": "city", "operator": "CONTAINS",
                           "value": "H", "points": 1, "reason": "x".repeat(501)}), // 9
                ],
                "priorityBands": [
                    {"minScore": 101, "priority": "HIGH"},
                    {"minScore": 50, "priority": "HIGH"},
                    {"minScore": 50, "priority": "LOW"}
                ],
                "defaultPriority": "LOW"
            }),
        );
        assert_eq!(
            violations(&app, &c).await,
            vec![
                "scoringRules.rules[1].id",
                "scoringRules.rules[2].id",
                "scoringRules.rules[3].field",
                "scoringRules.rules[4].value",
                "scoringRules.rules[5].value",
                "scoringRules.rules[6].value",
                "scoringRules.rules[7].value",
                "scoringRules.rules[8].points",
                "scoringRules.rules[9].reason",
                "scoringRules.priorityBands[0].minScore",
                "scoringRules.priorityBands[2].minScore",
            ]
        );
        // Unknown operators and priorities (unset or unknown enum numbers).
        let mut p = product("PRODUCT", &content());
        let rules = p.scoring_rules.as_mut().unwrap();
        rules.rules[0].operator = 0;
        rules.rules.push(pb::ScoringRule {
            operator: 99,
            ..rules.rules[0].clone()
        });
        rules.priority_bands[0].priority = 0;
        let err = app
            .admin()
            .create_product(pb::CreateProductRequest { product: Some(p) })
            .await
            .unwrap_err();
        assert_status(&err, Code::InvalidArgument, "PRODUCT_INVALID");
        assert_eq!(
            fields(&err),
            vec![
                "scoringRules.rules[0].operator",
                "scoringRules.rules[1].operator",
                "scoringRules.priorityBands[0].priority"
            ]
        );
        // Too many rules.
        let rules: Vec<Value> = (0..201)
            .map(|i| rule(&format!("r{i}"), "city", "EXISTS", Value::Null, 1))
            .collect();
        set(&mut c, "scoringRules", json!({"rules": rules}));
        assert_eq!(violations(&app, &c).await, vec!["scoringRules.rules"]);
    }
}

#[tokio::test]
async fn dictionaries_settings_and_all_at_once() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let mut c = content();
        set(
            &mut c,
            "dictionaries",
            json!({
                "cities": [{"value": "HN", "label": "Ha Noi"}, {"value": "HN", "label": "again"}],
                "bad name!": [{"value": "x", "label": "x"}],
                "empty": [{"value": "", "label": "nothing"}]
            }),
        );
        set(
            &mut c,
            "settings",
            json!({
                "captchaMode": "TURNSTILE",
                "allowedOrigins": ["https://ok.example", "https://bad.example/path",
                                   "HTTPS://UPPER.example", "https://ok.example"],
                "duplicatePolicy": "MERGE",
                "duplicateKeyFields": ["email"],
                "duplicateWindowHours": 100000
            }),
        );
        set(&mut c, "name", json!(""));
        let err = create_err(&app, "x", &c).await;
        assert_status(&err, Code::InvalidArgument, "PRODUCT_INVALID");
        assert_eq!(
            fields(&err),
            vec![
                "productCode",
                "name",
                "dictionaries.bad name!",
                "dictionaries.cities[1].value",
                "dictionaries.empty[0].value",
                "settings.captchaSiteKey",
                "settings.allowedOrigins[1]",
                "settings.allowedOrigins[2]",
                "settings.allowedOrigins[3]",
                "settings.duplicateKeyFields[0]",
                "settings.duplicateWindowHours",
            ]
        );
        assert!(err.message().contains("11 problems"), "{}", err.message());

        // Unknown enum numbers in settings.
        let mut p = product("PRODUCT", &content());
        let s = p.settings.as_mut().unwrap();
        s.captcha_mode = 42;
        s.duplicate_policy = 42;
        let err = app
            .admin()
            .create_product(pb::CreateProductRequest { product: Some(p) })
            .await
            .unwrap_err();
        assert_eq!(
            fields(&err),
            vec!["settings.captchaMode", "settings.duplicatePolicy"]
        );

        // Dictionary size limit.
        let mut c = content();
        let entries: Vec<Value> = (0..5001)
            .map(|i| json!({"value": format!("v{i}"), "label": "l"}))
            .collect();
        set(&mut c, "dictionaries", json!({"cities": entries}));
        assert_eq!(violations(&app, &c).await, vec!["dictionaries.cities"]);

        // Valid private settings are stored and returned.
        let mut c = content();
        set(
            &mut c,
            "settings",
            json!({
                "captchaMode": "TURNSTILE", "captchaSiteKey": "0x4AAAA",
                "allowedOrigins": ["https://a.example", "http://localhost:3000"],
                "duplicatePolicy": "SUPPRESS", "duplicateKeyFields": ["city"],
                "duplicateWindowHours": 48
            }),
        );
        let p = create(&app, "SETTINGS", &c).await;
        let s = p.settings.unwrap();
        assert_eq!(s.captcha_mode, pb::CaptchaMode::Turnstile as i32);
        assert_eq!(s.captcha_site_key, "0x4AAAA");
        assert_eq!(
            s.allowed_origins,
            vec!["https://a.example", "http://localhost:3000"]
        );
        assert_eq!(s.duplicate_policy, pb::DuplicatePolicy::Suppress as i32);
        assert_eq!(s.duplicate_key_fields, vec!["city"]);
        assert_eq!(s.duplicate_window_hours, 48);
    }
}
