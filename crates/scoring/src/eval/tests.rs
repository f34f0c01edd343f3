//! Operator semantics, blank fields, clamping and priority bands.

#![allow(clippy::unwrap_used)]

use crate::{Matched, Outcome, Priority, from_json};
use serde_json::{Value, json};

/// Evaluates a rule set given as JSON against a form given as JSON.
fn eval(set: Value, form: Value) -> Outcome {
    let rules = from_json(&set, "scoringRules").unwrap();
    rules.compile().unwrap().evaluate(form.as_object().unwrap())
}

/// Whether one rule `f <op> value` matches a form where `f` is `field` (`None` = absent).
fn hits(op: &str, value: Value, field: Option<Value>) -> bool {
    let set =
        json!({"rules": [{"id": "r", "field": "f", "operator": op, "value": value, "points": 10}]});
    let mut form = serde_json::Map::new();
    if let Some(v) = field {
        form.insert("f".into(), v);
    }
    let out = eval(set, Value::Object(form));
    assert_eq!(out.score, if out.matched.is_empty() { 0 } else { 10 });
    !out.matched.is_empty()
}

fn hit(op: &str, value: Value, field: Value) -> bool {
    hits(op, value, Some(field))
}

#[test]
fn equals_compares_strings_trimmed_and_case_insensitively() {
    assert!(hit("EQUALS", json!("India"), json!("india")));
    assert!(hit("EQUALS", json!("India"), json!("  INDIA \t")));
    assert!(hit("EQUALS", json!("  India "), json!("india")));
    assert!(hit("EQUALS", json!("École"), json!(" ÉCOLE ")));
    assert!(!hit("EQUALS", json!("India"), json!("Indian")));
    assert!(!hit("EQUALS", json!("India"), json!("In dia")));
}

#[test]
fn equals_compares_numbers_numerically() {
    assert!(hit("EQUALS", json!(5), json!(5)));
    assert!(hit("EQUALS", json!(5), json!(5.0)));
    assert!(hit("EQUALS", json!(5), json!("5")));
    assert!(hit("EQUALS", json!(5), json!(" 5.00 ")));
    assert!(hit("EQUALS", json!(2.5), json!("2.5")));
    assert!(hit("EQUALS", json!(1000), json!("1e3")));
    assert!(!hit("EQUALS", json!(5), json!(6)));
    assert!(!hit("EQUALS", json!(5), json!("five")));
    assert!(!hit("EQUALS", json!(1), json!(true)));
    assert!(!hit("EQUALS", json!(5), json!([5])));
}

#[test]
fn equals_string_operand_against_numeric_field() {
    assert!(hit("EQUALS", json!("5"), json!(5)));
    assert!(hit("EQUALS", json!("5.0"), json!(5)));
    assert!(hit("EQUALS", json!(" 2.5 "), json!(2.5)));
    assert!(hit("EQUALS", json!("5"), json!("5.0")));
    assert!(!hit("EQUALS", json!("5"), json!(5.5)));
    assert!(!hit("EQUALS", json!("five"), json!(5)));
}

#[test]
fn equals_boolean_operand() {
    assert!(hit("EQUALS", json!(true), json!(true)));
    assert!(hit("EQUALS", json!(true), json!(" TRUE ")));
    assert!(hit("EQUALS", json!(false), json!(false)));
    assert!(hit("EQUALS", json!(false), json!("false")));
    assert!(!hit("EQUALS", json!(true), json!(false)));
    assert!(!hit("EQUALS", json!(true), json!("yes")));
    assert!(!hit("EQUALS", json!(true), json!(1)));
    // A string operand compares with a boolean field's text.
    assert!(hit("EQUALS", json!("true"), json!(true)));
    assert!(!hit("EQUALS", json!("false"), json!(true)));
}

#[test]
fn not_equals_is_the_complement_for_present_fields() {
    assert!(!hit("NOT_EQUALS", json!("India"), json!(" india ")));
    assert!(hit("NOT_EQUALS", json!("India"), json!("Brazil")));
    assert!(!hit("NOT_EQUALS", json!(5), json!("5.0")));
    assert!(hit("NOT_EQUALS", json!(5), json!(6)));
    // A non-numeric field against a numeric operand is "not equal".
    assert!(hit("NOT_EQUALS", json!(5), json!("five")));
    assert!(hit("NOT_EQUALS", json!(true), json!("no")));
    assert!(hit("NOT_EQUALS", json!("x"), json!([1, 2])));
}

#[test]
fn in_and_not_in() {
    let list = json!(["Google", "Direct Traffic", 42, true]);
    assert!(hit("IN", list.clone(), json!(" google ")));
    assert!(hit("IN", list.clone(), json!("DIRECT TRAFFIC")));
    assert!(hit("IN", list.clone(), json!(42)));
    assert!(hit("IN", list.clone(), json!("42.0")));
    assert!(hit("IN", list.clone(), json!(true)));
    assert!(!hit("IN", list.clone(), json!("Bing")));
    assert!(!hit("IN", list.clone(), json!(false)));
    assert!(!hit("NOT_IN", list.clone(), json!("GOOGLE")));
    assert!(!hit("NOT_IN", list.clone(), json!(42)));
    assert!(hit("NOT_IN", list.clone(), json!("Bing")));
    assert!(hit("NOT_IN", list, json!(43)));
    assert!(hit("IN", json!(["5"]), json!(5)));
}

#[test]
fn contains_is_a_case_insensitive_substring() {
    assert!(hit("CONTAINS", json!("mail"), json!("Email Marketing")));
    assert!(hit("CONTAINS", json!("MAIL"), json!("email")));
    assert!(hit("CONTAINS", json!("ai"), json!("ai")));
    assert!(!hit("CONTAINS", json!("sms"), json!("Email")));
    assert!(hit("CONTAINS", json!("23"), json!(1234)));
    assert!(hit("CONTAINS", json!(".5"), json!(2.5)));
    assert!(hit("CONTAINS", json!("ru"), json!(true)));
    assert!(!hit("CONTAINS", json!("a"), json!({"a": "a"})));
}

#[test]
fn contains_on_an_array_field_matches_any_element() {
    assert!(hit(
        "CONTAINS",
        json!("sms"),
        json!(["Email", "SMS alerts"])
    ));
    assert!(hit("CONTAINS", json!("4"), json!(["x", 42])));
    assert!(!hit("CONTAINS", json!("fax"), json!(["Email", "SMS"])));
    assert!(!hit("CONTAINS", json!("x"), json!([])));
}

#[test]
fn comparisons_use_numbers_and_numeric_strings() {
    assert!(hit("GT", json!(10), json!(11)));
    assert!(!hit("GT", json!(10), json!(10)));
    assert!(hit("GTE", json!(10), json!(10)));
    assert!(!hit("GTE", json!(10), json!(9.99)));
    assert!(hit("LT", json!(10), json!(9.5)));
    assert!(!hit("LT", json!(10), json!(10)));
    assert!(hit("LTE", json!(10), json!(10)));
    assert!(!hit("LTE", json!(10), json!(10.01)));
    assert!(hit("GT", json!("10"), json!(" 10.5 ")));
    assert!(hit("LT", json!(" -1 "), json!("-2")));
    assert!(hit("GTE", json!(0), json!("0")));
    assert!(hit("GT", json!(-5), json!(-4)));
}

#[test]
fn comparisons_never_match_non_numeric_fields() {
    for op in ["GT", "GTE", "LT", "LTE"] {
        assert!(!hit(op, json!(0), json!("abc")), "{op}");
        assert!(!hit(op, json!(0), json!(true)), "{op}");
        assert!(!hit(op, json!(0), json!([1])), "{op}");
        assert!(!hit(op, json!(0), json!({"v": 1})), "{op}");
        assert!(!hit(op, json!(0), json!("inf")), "{op}");
    }
}

#[test]
fn between_is_inclusive_on_both_ends() {
    let range = json!([10, 20]);
    assert!(hit("BETWEEN", range.clone(), json!(10)));
    assert!(hit("BETWEEN", range.clone(), json!(20)));
    assert!(hit("BETWEEN", range.clone(), json!(15.5)));
    assert!(hit("BETWEEN", range.clone(), json!("12")));
    assert!(!hit("BETWEEN", range.clone(), json!(9.999)));
    assert!(!hit("BETWEEN", range.clone(), json!(20.001)));
    assert!(!hit("BETWEEN", range, json!("fifteen")));
    assert!(hit("BETWEEN", json!(["1.5", "2.5"]), json!(2)));
    assert!(hit("BETWEEN", json!([7, 7]), json!(7)));
    assert!(!hit("BETWEEN", json!([7, 7]), json!(7.1)));
}

#[test]
fn exists_matches_any_present_non_blank_value() {
    for v in [
        json!("x"),
        json!(0),
        json!(false),
        json!([]),
        json!({}),
        json!(" a "),
    ] {
        assert!(hits("EXISTS", Value::Null, Some(v.clone())), "{v}");
        assert!(hits("EXISTS", json!("ignored"), Some(v.clone())), "{v}");
    }
}

#[test]
fn matches_is_an_unanchored_regex_on_the_field_text() {
    assert!(hit("MATCHES", json!("^[0-9]{10}$"), json!("9876543210")));
    assert!(!hit("MATCHES", json!("^[0-9]{10}$"), json!("98765")));
    assert!(hit("MATCHES", json!("gmail"), json!("someone@gmail.com")));
    assert!(!hit("MATCHES", json!("GMAIL"), json!("someone@gmail.com")));
    assert!(hit(
        "MATCHES",
        json!("(?i)GMAIL"),
        json!("someone@gmail.com")
    ));
    assert!(hit("MATCHES", json!("^5$"), json!(5.0)));
    assert!(hit("MATCHES", json!("^true$"), json!(true)));
    assert!(hit("MATCHES", json!("^b"), json!(["a", "bc"])));
    assert!(!hit("MATCHES", json!("a"), json!({"a": "a"})));
}

#[test]
fn blank_fields_never_match_any_operator() {
    let cases = [
        ("EQUALS", json!("x")),
        ("NOT_EQUALS", json!("x")),
        ("NOT_EQUALS", json!("")),
        ("IN", json!(["x", ""])),
        ("NOT_IN", json!(["x"])),
        ("CONTAINS", json!(" ")),
        ("GT", json!(-1)),
        ("GTE", json!(0)),
        ("LT", json!(1)),
        ("LTE", json!(0)),
        ("BETWEEN", json!([-1, 1])),
        ("EXISTS", Value::Null),
        ("MATCHES", json!("")),
        ("MATCHES", json!("^$")),
    ];
    for (op, value) in cases {
        assert!(!hits(op, value.clone(), None), "{op} absent");
        for blank in [Value::Null, json!(""), json!("   "), json!("\t\n")] {
            assert!(!hit(op, value.clone(), blank.clone()), "{op} {blank}");
        }
    }
}

#[test]
fn rules_look_at_top_level_keys_only() {
    let set = json!({"rules": [{"id": "r", "field": "a.b", "operator": "EXISTS", "points": 10}]});
    assert_eq!(eval(set.clone(), json!({"a": {"b": 1}})).score, 0);
    assert_eq!(eval(set, json!({"a.b": 1})).score, 10);
}

#[test]
fn score_is_the_clamped_sum_and_raw_score_the_plain_sum() {
    let set = json!({"rules": [
        {"id": "a", "field": "x", "operator": "EXISTS", "points": 70},
        {"id": "b", "field": "y", "operator": "EXISTS", "points": 60},
        {"id": "c", "field": "z", "operator": "EXISTS", "points": -200}
    ]});
    let top = eval(set.clone(), json!({"x": 1, "y": 1}));
    assert_eq!((top.score, top.raw_score), (100, 130));
    let bottom = eval(set.clone(), json!({"x": 1, "z": 1}));
    assert_eq!((bottom.score, bottom.raw_score), (0, -130));
    let mid = eval(set.clone(), json!({"x": 1, "y": 1, "z": 1}));
    assert_eq!((mid.score, mid.raw_score), (0, -70));
    let one = eval(set.clone(), json!({"y": 1}));
    assert_eq!((one.score, one.raw_score), (60, 60));
    let none = eval(set, json!({}));
    assert_eq!((none.score, none.raw_score), (0, 0));
    assert!(none.matched.is_empty());
}

#[test]
fn negative_points_subtract() {
    let set = json!({"rules": [
        {"id": "base", "field": "x", "operator": "EXISTS", "points": 50},
        {"id": "spam", "field": "email", "operator": "CONTAINS", "value": "@spam.", "points": -30}
    ]});
    let out = eval(set, json!({"x": "y", "email": "a@SPAM.example"}));
    assert_eq!((out.score, out.raw_score), (20, 20));
}

#[test]
fn extreme_rule_sets_do_not_overflow() {
    let rules: Vec<Value> = (0..200)
        .map(|i| json!({"id": format!("r{i}"), "field": "x", "operator": "EXISTS", "points": 1000}))
        .collect();
    let out = eval(json!({"rules": rules}), json!({"x": 1}));
    assert_eq!((out.score, out.raw_score), (100, 200_000));
}

#[test]
fn matched_lists_rules_in_order_with_their_details() {
    let set = json!({"rules": [
        {"id": "src", "field": "source", "operator": "IN", "value": ["Google"], "points": 15, "reason": "paid search"},
        {"id": "none", "field": "country", "operator": "EQUALS", "value": "India", "points": 5},
        {"id": "visits", "field": "totalVisits", "operator": "GTE", "value": 5, "points": -3}
    ]});
    let out = eval(
        set,
        json!({"source": "google", "country": "Brazil", "totalVisits": "7"}),
    );
    assert_eq!(
        out,
        Outcome {
            score: 12,
            raw_score: 12,
            priority: Priority::Low,
            matched: vec![
                Matched {
                    rule_id: "src".into(),
                    field: "source".into(),
                    points: 15,
                    reason: "paid search".into()
                },
                Matched {
                    rule_id: "visits".into(),
                    field: "totalVisits".into(),
                    points: -3,
                    reason: "".into()
                },
            ],
        }
    );
    assert_eq!(
        serde_json::to_value(&out.matched[0]).unwrap(),
        json!({"ruleId": "src", "field": "source", "points": 15, "reason": "paid search"})
    );
}

fn banded(score: i64, bands: Value, default: Option<&str>) -> Priority {
    let mut set = json!({
        "rules": [{"id": "s", "field": "x", "operator": "EXISTS", "points": score}],
        "priorityBands": bands
    });
    if let Some(d) = default {
        set["defaultPriority"] = json!(d);
    }
    eval(set, json!({"x": 1})).priority
}

#[test]
fn priority_comes_from_the_highest_band_not_above_the_score() {
    // Deliberately unsorted.
    let bands = json!([
        {"minScore": 80, "priority": "URGENT"},
        {"minScore": 30, "priority": "MEDIUM"},
        {"minScore": 60, "priority": "HIGH"}
    ]);
    assert_eq!(banded(29, bands.clone(), None), Priority::Low);
    assert_eq!(banded(30, bands.clone(), None), Priority::Medium);
    assert_eq!(banded(59, bands.clone(), None), Priority::Medium);
    assert_eq!(banded(60, bands.clone(), None), Priority::High);
    assert_eq!(banded(79, bands.clone(), None), Priority::High);
    assert_eq!(banded(80, bands.clone(), None), Priority::Urgent);
    assert_eq!(banded(100, bands.clone(), None), Priority::Urgent);
    // The clamped score chooses the band.
    assert_eq!(banded(1000, bands.clone(), None), Priority::Urgent);
    assert_eq!(banded(10, bands.clone(), Some("MEDIUM")), Priority::Medium);
    assert_eq!(banded(-50, bands, Some("HIGH")), Priority::High);
}

#[test]
fn priority_defaults_without_bands_and_bands_may_start_at_zero() {
    assert_eq!(banded(90, json!([]), None), Priority::Low);
    assert_eq!(banded(90, json!([]), Some("URGENT")), Priority::Urgent);
    let from_zero =
        json!([{"minScore": 0, "priority": "MEDIUM"}, {"minScore": 100, "priority": "URGENT"}]);
    assert_eq!(
        banded(-10, from_zero.clone(), Some("HIGH")),
        Priority::Medium
    );
    assert_eq!(banded(99, from_zero.clone(), None), Priority::Medium);
    assert_eq!(banded(100, from_zero, None), Priority::Urgent);
}

#[test]
fn empty_rule_set_scores_zero() {
    let compiled = crate::ScoringRules::default().compile().unwrap();
    assert!(compiled.is_empty());
    let out = compiled.evaluate(&serde_json::Map::new());
    assert_eq!(
        out,
        Outcome {
            score: 0,
            raw_score: 0,
            priority: Priority::Low,
            matched: vec![]
        }
    );
}

#[test]
fn compiled_rules_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<crate::CompiledRules>();
}
