//! Parsing the REST shape with path-naming violations.

#![allow(clippy::unwrap_used)]

use crate::{Operator, Priority, PriorityBand, Rule, ScoringRules, from_json};
use serde_json::{Value, json};

fn errors(v: Value) -> Vec<(String, String)> {
    from_json(&v, "scoringRules")
        .unwrap_err()
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

const OPS: &str =
    "EQUALS, NOT_EQUALS, IN, NOT_IN, CONTAINS, GT, GTE, LT, LTE, BETWEEN, EXISTS, MATCHES";

#[test]
fn parses_the_rest_shape() {
    let parsed = from_json(
        &json!({
            "rules": [{"id": "r1", "field": "country", "operator": "NOT_IN", "value": ["a", 1],
                       "points": -5, "reason": "why"},
                      {"id": "r2", "field": "x", "operator": "EXISTS", "points": 3.0, "value": null, "reason": null}],
            "priorityBands": [{"minScore": 40, "priority": "HIGH"}],
            "defaultPriority": "MEDIUM"
        }),
        "scoringRules",
    )
    .unwrap();
    assert_eq!(
        parsed,
        ScoringRules {
            rules: vec![
                Rule {
                    id: "r1".into(),
                    field: "country".into(),
                    operator: Operator::NotIn,
                    value: json!(["a", 1]),
                    points: -5,
                    reason: "why".into(),
                },
                Rule {
                    id: "r2".into(),
                    field: "x".into(),
                    operator: Operator::Exists,
                    value: Value::Null,
                    points: 3,
                    reason: String::new(),
                },
            ],
            priority_bands: vec![PriorityBand {
                min_score: 40,
                priority: Priority::High
            }],
            default_priority: Priority::Medium,
        }
    );
}

#[test]
fn null_and_empty_objects_are_the_empty_rule_set() {
    assert_eq!(
        from_json(&Value::Null, "scoringRules").unwrap(),
        ScoringRules::default()
    );
    assert_eq!(
        from_json(&json!({}), "scoringRules").unwrap(),
        ScoringRules::default()
    );
    assert_eq!(
        from_json(
            &json!({"rules": null, "priorityBands": null, "defaultPriority": null}),
            "s"
        )
        .unwrap(),
        ScoringRules::default()
    );
}

#[test]
fn unknown_operator_names_the_path_and_the_choices() {
    let v = json!({"rules": [
        {"id": "a", "field": "f", "operator": "EQUALS", "value": 1, "points": 1},
        {"id": "b", "field": "f", "operator": "FOO", "value": 1, "points": 1}
    ]});
    assert_eq!(
        errors(v),
        vec![(
            "scoringRules.rules[1].operator".into(),
            format!("unknown operator \"FOO\"; expected one of {OPS}")
        )]
    );
    assert_eq!(
        errors(json!({"rules": [{"id": "a", "field": "f", "operator": "equals", "points": 1}]}))[0]
            .1,
        format!("unknown operator \"equals\"; expected one of {OPS}")
    );
    assert_eq!(
        errors(json!({"rules": [{"id": "a", "field": "f", "operator": 3, "points": 1}]}))[0].1,
        format!("must be a string, got a number; expected one of {OPS}")
    );
}

#[test]
fn required_keys_types_and_unknown_keys_are_all_reported() {
    let v = json!({
        "rules": [
            {"field": 5, "points": "ten", "reason": 1, "weight": 2},
            "not an object",
            {"id": "x", "field": "f", "operator": "EXISTS", "points": 2.5},
            {"id": "y", "field": "f", "operator": "EXISTS", "points": 3000000000i64}
        ],
        "priorityBands": [{"minScore": "10"}, {"priority": "SUPER", "minScore": 1}],
        "defaultPriority": "low",
        "version": 1
    });
    assert_eq!(
        errors(v),
        vec![
            (
                "scoringRules.version".into(),
                "unknown field; expected one of rules, priorityBands, defaultPriority".into()
            ),
            (
                "scoringRules.rules[0].weight".into(),
                "unknown field; expected one of id, field, operator, value, points, reason".into()
            ),
            ("scoringRules.rules[0].id".into(), "is required".into()),
            (
                "scoringRules.rules[0].field".into(),
                "must be a string, got a number".into()
            ),
            (
                "scoringRules.rules[0].operator".into(),
                format!("is required; expected one of {OPS}")
            ),
            (
                "scoringRules.rules[0].points".into(),
                "must be an integer, got a string".into()
            ),
            (
                "scoringRules.rules[0].reason".into(),
                "must be a string, got a number".into()
            ),
            (
                "scoringRules.rules[1]".into(),
                "must be an object, got a string".into()
            ),
            (
                "scoringRules.rules[2].points".into(),
                "must be an integer, got 2.5".into()
            ),
            (
                "scoringRules.rules[3].points".into(),
                "must be between -1000 and 1000, got 3000000000".into()
            ),
            (
                "scoringRules.priorityBands[0].minScore".into(),
                "must be an integer, got a string".into()
            ),
            (
                "scoringRules.priorityBands[0].priority".into(),
                "is required; expected one of LOW, MEDIUM, HIGH, URGENT".into()
            ),
            (
                "scoringRules.priorityBands[1].priority".into(),
                "unknown priority \"SUPER\"; expected one of LOW, MEDIUM, HIGH, URGENT".into()
            ),
            (
                "scoringRules.defaultPriority".into(),
                "unknown priority \"low\"; expected one of LOW, MEDIUM, HIGH, URGENT".into()
            ),
        ]
    );
}

#[test]
fn wrong_container_types() {
    assert_eq!(
        errors(json!([])),
        vec![(
            "scoringRules".into(),
            "must be an object, got an array".into()
        )]
    );
    assert_eq!(
        errors(json!({"rules": {}, "priorityBands": "x"})),
        vec![
            (
                "scoringRules.rules".into(),
                "must be an array, got an object".into()
            ),
            (
                "scoringRules.priorityBands".into(),
                "must be an array, got a string".into()
            ),
        ]
    );
}

#[test]
fn agrees_with_serde_on_valid_input() {
    let v = json!({
        "rules": [{"id": "a", "field": "f", "operator": "BETWEEN", "value": [1, 2], "points": 7, "reason": "r"}],
        "priorityBands": [{"minScore": 5, "priority": "URGENT"}],
        "defaultPriority": "HIGH"
    });
    let serde: ScoringRules = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(from_json(&v, "scoringRules").unwrap(), serde);
    assert_eq!(serde_json::to_value(&serde).unwrap(), v);
}
