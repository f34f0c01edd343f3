//! Validation on save: every rule of the contract, with exact paths, all violations at once.

#![allow(clippy::unwrap_used)]

use crate::{ScoringRules, Violation, from_json};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn set(v: Value) -> ScoringRules {
    from_json(&v, "scoringRules").unwrap()
}

/// Violations of a rule set (as `(field, description)`), validated without a field check.
fn violations(v: Value) -> Vec<(String, String)> {
    pairs(set(v).validate("scoringRules", None).unwrap_err())
}

fn pairs(vs: Vec<Violation>) -> Vec<(String, String)> {
    vs.into_iter().map(|v| (v.field, v.description)).collect()
}

fn fields(v: Value) -> Vec<String> {
    violations(v).into_iter().map(|(f, _)| f).collect()
}

/// One rule with the given operator and value.
fn rule(op: &str, value: Value) -> Value {
    json!({"rules": [{"id": "r", "field": "f", "operator": op, "value": value, "points": 1}]})
}

fn value_ok(op: &str, value: Value) -> bool {
    set(rule(op, value)).validate("scoringRules", None).is_ok()
}

fn value_error(op: &str, value: Value) -> String {
    let vs = violations(rule(op, value));
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0].0, "scoringRules.rules[0].value");
    vs[0].1.clone()
}

#[test]
fn a_good_rule_set_validates_and_compiles() {
    let good = set(json!({
        "rules": [
            {"id": "a", "field": "country", "operator": "EQUALS", "value": "India", "points": 10, "reason": "home"},
            {"id": "b", "field": "country", "operator": "NOT_EQUALS", "value": 5, "points": -10},
            {"id": "c", "field": "source", "operator": "IN", "value": ["Google", 1, true], "points": 5},
            {"id": "d", "field": "source", "operator": "NOT_IN", "value": ["x"], "points": 5},
            {"id": "e", "field": "email", "operator": "CONTAINS", "value": "@", "points": 1},
            {"id": "f", "field": "visits", "operator": "GT", "value": 1, "points": 1},
            {"id": "g", "field": "visits", "operator": "GTE", "value": "2.5", "points": 1},
            {"id": "h", "field": "visits", "operator": "LT", "value": -1, "points": 1},
            {"id": "i", "field": "visits", "operator": "LTE", "value": 0.5, "points": 1},
            {"id": "j", "field": "visits", "operator": "BETWEEN", "value": ["1", 2], "points": 1000},
            {"id": "k", "field": "phone", "operator": "EXISTS", "points": -1000},
            {"id": "l", "field": "phone", "operator": "MATCHES", "value": "^\\+?[0-9 ]{6,}$", "points": 0}
        ],
        "priorityBands": [{"minScore": 0, "priority": "LOW"}, {"minScore": 100, "priority": "URGENT"}],
        "defaultPriority": "MEDIUM"
    }));
    let known: BTreeSet<String> = ["country", "source", "email", "visits", "phone"]
        .map(String::from)
        .into();
    assert_eq!(good.validate("scoringRules", Some(&known)), Ok(()));
    assert_eq!(good.compile().unwrap().len(), 12);
    assert_eq!(
        ScoringRules::default().validate("scoringRules", Some(&known)),
        Ok(())
    );
}

#[test]
fn ids_must_be_present_short_and_unique() {
    let vs = violations(json!({"rules": [
        {"id": "", "field": "f", "operator": "EXISTS", "points": 1},
        {"id": "  ", "field": "f", "operator": "EXISTS", "points": 1},
        {"id": "x".repeat(65), "field": "f", "operator": "EXISTS", "points": 1},
        {"id": "dup", "field": "f", "operator": "EXISTS", "points": 1},
        {"id": "dup", "field": "f", "operator": "EXISTS", "points": 1},
        {"id": "y".repeat(64), "field": "f", "operator": "EXISTS", "points": 1}
    ]}));
    assert_eq!(
        vs,
        vec![
            (
                "scoringRules.rules[0].id".into(),
                "must not be empty".into()
            ),
            (
                "scoringRules.rules[1].id".into(),
                "must not be empty".into()
            ),
            (
                "scoringRules.rules[2].id".into(),
                "must be at most 64 characters, got 65".into()
            ),
            (
                "scoringRules.rules[4].id".into(),
                "duplicate rule id \"dup\" (also rules[3])".into()
            ),
        ]
    );
}

#[test]
fn fields_must_be_present_and_known_when_a_schema_is_given() {
    let v = json!({"rules": [
        {"id": "a", "field": "", "operator": "EXISTS", "points": 1},
        {"id": "b", "field": "x", "operator": "EXISTS", "points": 1},
        {"id": "c", "field": "country", "operator": "EXISTS", "points": 1}
    ]});
    let known: BTreeSet<String> = ["country".to_string()].into();
    assert_eq!(
        pairs(
            set(v.clone())
                .validate("scoringRules", Some(&known))
                .unwrap_err()
        ),
        vec![
            (
                "scoringRules.rules[0].field".into(),
                "must not be empty".into()
            ),
            (
                "scoringRules.rules[1].field".into(),
                "\"x\" is not a property of formSchema".into()
            ),
        ]
    );
    // Without a schema only emptiness is checked.
    assert_eq!(fields(v), vec!["scoringRules.rules[0].field"]);
}

#[test]
fn equality_operands_are_scalars() {
    for op in ["EQUALS", "NOT_EQUALS"] {
        assert!(value_ok(op, json!("x")));
        assert!(value_ok(op, json!(5)));
        assert!(value_ok(op, json!(false)));
        assert_eq!(
            value_error(op, Value::Null),
            format!("{op} needs a string, number or boolean, got null")
        );
        assert_eq!(
            value_error(op, json!([1])),
            format!("{op} needs a string, number or boolean, got an array")
        );
        assert_eq!(
            value_error(op, json!({})),
            format!("{op} needs a string, number or boolean, got an object")
        );
    }
}

#[test]
fn in_operands_are_non_empty_arrays_of_scalars() {
    for op in ["IN", "NOT_IN"] {
        assert!(value_ok(op, json!(["a"])));
        assert!(value_ok(op, json!([1, "b", true])));
        let expected = format!("{op} needs a non-empty array of strings, numbers or booleans");
        assert_eq!(
            value_error(op, json!([])),
            format!("{expected}, got an empty array")
        );
        assert_eq!(
            value_error(op, json!("a")),
            format!("{expected}, got a string")
        );
        assert_eq!(
            value_error(op, Value::Null),
            format!("{expected}, got null")
        );
        assert_eq!(
            value_error(op, json!(["a", null])),
            format!("{expected}; element 1 is null")
        );
        assert_eq!(
            value_error(op, json!([["a"]])),
            format!("{expected}; element 0 is an array")
        );
    }
}

#[test]
fn contains_needs_a_non_empty_string() {
    assert!(value_ok("CONTAINS", json!("a")));
    assert_eq!(
        value_error("CONTAINS", json!("")),
        "CONTAINS needs a non-empty string"
    );
    assert_eq!(
        value_error("CONTAINS", json!(5)),
        "CONTAINS needs a non-empty string, got a number"
    );
    assert_eq!(
        value_error("CONTAINS", Value::Null),
        "CONTAINS needs a non-empty string, got null"
    );
}

#[test]
fn comparisons_need_a_number_or_numeric_string() {
    for op in ["GT", "GTE", "LT", "LTE"] {
        assert!(value_ok(op, json!(5)));
        assert!(value_ok(op, json!(-2.5)));
        assert!(value_ok(op, json!(" 7 ")));
        assert_eq!(
            value_error(op, json!("abc")),
            format!("{op} needs a number or a numeric string, got \"abc\"")
        );
        assert_eq!(
            value_error(op, json!("")),
            format!("{op} needs a number or a numeric string, got \"\"")
        );
        assert_eq!(
            value_error(op, Value::Null),
            format!("{op} needs a number or a numeric string, got null")
        );
        assert_eq!(
            value_error(op, json!(true)),
            format!("{op} needs a number or a numeric string, got a boolean")
        );
        assert_eq!(
            value_error(op, json!([1])),
            format!("{op} needs a number or a numeric string, got an array")
        );
    }
}

#[test]
fn between_needs_an_ordered_pair_of_numbers() {
    assert!(value_ok("BETWEEN", json!([1, 2])));
    assert!(value_ok("BETWEEN", json!([2, 2])));
    assert!(value_ok("BETWEEN", json!(["1.5", " 3 "])));
    let expected = "BETWEEN needs [low, high]: two numbers or numeric strings with low <= high";
    assert_eq!(
        value_error("BETWEEN", json!([3, 1])),
        format!("{expected}, got low 3 > high 1")
    );
    assert_eq!(
        value_error("BETWEEN", json!([1])),
        format!("{expected}, got 1 elements")
    );
    assert_eq!(
        value_error("BETWEEN", json!([1, 2, 3])),
        format!("{expected}, got 3 elements")
    );
    assert_eq!(
        value_error("BETWEEN", json!(5)),
        format!("{expected}, got a number")
    );
    assert_eq!(
        value_error("BETWEEN", json!(["a", 2])),
        format!("{expected}, got [\"a\", 2]")
    );
    assert_eq!(
        value_error("BETWEEN", json!([1, null])),
        format!("{expected}, got [1, null]")
    );
}

#[test]
fn exists_ignores_its_value() {
    assert!(value_ok("EXISTS", Value::Null));
    assert!(value_ok("EXISTS", json!({"anything": [1]})));
    let no_value =
        set(json!({"rules": [{"id": "r", "field": "f", "operator": "EXISTS", "points": 1}]}));
    assert_eq!(no_value.validate("scoringRules", None), Ok(()));
}

#[test]
fn matches_needs_a_valid_size_limited_pattern() {
    assert!(value_ok("MATCHES", json!("^a+$")));
    assert!(value_ok("MATCHES", json!("a".repeat(1000))));
    assert_eq!(
        value_error("MATCHES", json!("a".repeat(1001))),
        "MATCHES pattern must be at most 1000 characters, got 1001"
    );
    assert_eq!(
        value_error("MATCHES", json!("(abc")),
        "invalid regular expression: unclosed group"
    );
    assert_eq!(
        value_error("MATCHES", json!("[z-a]")),
        "invalid regular expression: invalid character class range, the start must be <= the end"
    );
    assert_eq!(
        value_error("MATCHES", json!(5)),
        "MATCHES needs a regular expression string, got a number"
    );
    let too_big = value_error("MATCHES", json!("(?:\\w{50}){50}"));
    assert!(
        too_big.starts_with("regular expression is too big"),
        "{too_big}"
    );
}

#[test]
fn points_are_within_plus_minus_one_thousand() {
    let vs = violations(json!({"rules": [
        {"id": "a", "field": "f", "operator": "EXISTS", "points": 1001},
        {"id": "b", "field": "f", "operator": "EXISTS", "points": -1001},
        {"id": "c", "field": "f", "operator": "EXISTS", "points": 1000},
        {"id": "d", "field": "f", "operator": "EXISTS", "points": -1000}
    ]}));
    assert_eq!(
        vs,
        vec![
            (
                "scoringRules.rules[0].points".into(),
                "must be between -1000 and 1000, got 1001".into()
            ),
            (
                "scoringRules.rules[1].points".into(),
                "must be between -1000 and 1000, got -1001".into()
            ),
        ]
    );
}

#[test]
fn reasons_are_at_most_500_characters() {
    let vs = violations(json!({"rules": [
        {"id": "a", "field": "f", "operator": "EXISTS", "points": 1, "reason": "é".repeat(500)},
        {"id": "b", "field": "f", "operator": "EXISTS", "points": 1, "reason": "x".repeat(501)}
    ]}));
    assert_eq!(
        vs,
        vec![(
            "scoringRules.rules[1].reason".into(),
            "must be at most 500 characters, got 501".into()
        )]
    );
}

#[test]
fn at_most_200_rules() {
    let rules = |n: usize| -> Value {
        (0..n)
            .map(
                |i| json!({"id": format!("r{i}"), "field": "f", "operator": "EXISTS", "points": 1}),
            )
            .collect::<Vec<_>>()
            .into()
    };
    assert!(
        set(json!({"rules": rules(200)}))
            .validate("scoringRules", None)
            .is_ok()
    );
    assert_eq!(
        violations(json!({"rules": rules(201)})),
        vec![(
            "scoringRules.rules".into(),
            "at most 200 rules are allowed, got 201".into()
        )]
    );
}

#[test]
fn bands_have_distinct_min_scores_within_0_to_100() {
    let vs = violations(json!({"priorityBands": [
        {"minScore": 0, "priority": "LOW"},
        {"minScore": 100, "priority": "URGENT"},
        {"minScore": 101, "priority": "URGENT"},
        {"minScore": -1, "priority": "LOW"},
        {"minScore": 50, "priority": "MEDIUM"},
        {"minScore": 50, "priority": "HIGH"}
    ]}));
    assert_eq!(
        vs,
        vec![
            (
                "scoringRules.priorityBands[2].minScore".into(),
                "must be between 0 and 100, got 101".into()
            ),
            (
                "scoringRules.priorityBands[3].minScore".into(),
                "must be between 0 and 100, got -1".into()
            ),
            (
                "scoringRules.priorityBands[5].minScore".into(),
                "duplicate minScore 50 (also priorityBands[4])".into()
            ),
        ]
    );
}

#[test]
fn every_violation_is_reported_at_once() {
    let v = json!({"rules": [
        {"id": "", "field": "", "operator": "GT", "value": "x", "points": 5000, "reason": "r".repeat(501)},
        {"id": "ok", "field": "f", "operator": "MATCHES", "value": "(", "points": 1},
        {"id": "ok", "field": "f", "operator": "IN", "value": [], "points": 1}
    ], "priorityBands": [{"minScore": 200, "priority": "HIGH"}]});
    assert_eq!(
        fields(v.clone()),
        vec![
            "scoringRules.rules[0].id",
            "scoringRules.rules[0].field",
            "scoringRules.rules[0].value",
            "scoringRules.rules[0].points",
            "scoringRules.rules[0].reason",
            "scoringRules.rules[1].value",
            "scoringRules.rules[2].id",
            "scoringRules.rules[2].value",
            "scoringRules.priorityBands[0].minScore",
        ]
    );
    // compile reports the same violations (under "scoringRules").
    assert_eq!(set(v.clone()).compile().unwrap_err().len(), 9);
    // The prefix is free: empty gives paths relative to the rule set.
    let rel = set(v).validate("", None).unwrap_err();
    assert_eq!(rel[0].field, "rules[0].id");
    assert_eq!(rel[8].field, "priorityBands[0].minScore");
}

#[test]
fn validate_uses_the_given_prefix() {
    let bad = set(rule("IN", json!([])));
    let vs = bad.validate("product.scoringRules", None).unwrap_err();
    assert_eq!(vs[0].field, "product.scoringRules.rules[0].value");
}
