//! Property tests: score bounds, complement operators, blank fields, and lossless JSON and
//! proto round trips.

#![allow(clippy::unwrap_used)]

use crate::{
    Operator, Priority, PriorityBand, Rule, ScoringRules, from_json, from_proto, to_proto,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// A scalar operand for EQUALS/IN: words, numeric strings, integers, decimals, booleans.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ a-cA-C]{0,3}[a-cA-C][ a-cA-C]{0,3}".prop_map(Value::from),
        (-20i64..20).prop_map(|n| json!(n.to_string())),
        (-20i64..20).prop_map(|n| json!(format!(" {n}.0 "))),
        (-20i64..20).prop_map(Value::from),
        (-40i64..40).prop_map(|n| json!(n as f64 / 2.0)),
        any::<bool>().prop_map(Value::from),
        any::<bool>().prop_map(|b| json!(if b { " TRUE" } else { "false " })),
    ]
}

/// A present, non-blank field value.
fn present() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::from),
        1 => Just(json!({"k": "v"})),
    ]
}

fn blank() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        Just(Some(json!(""))),
        Just(Some(json!("  \t "))),
    ]
}

fn priority() -> impl Strategy<Value = Priority> {
    prop::sample::select(Priority::ALL.to_vec())
}

/// A valid rule set over fields f0..f3 with distinct ids and band minimums.
fn rule_set() -> impl Strategy<Value = ScoringRules> {
    let rule = (
        0usize..4,
        prop_oneof![
            Just((Operator::Exists, Value::Null)),
            scalar().prop_map(|v| (Operator::Equals, v)),
            scalar().prop_map(|v| (Operator::NotEquals, v)),
            prop::collection::vec(scalar(), 1..3).prop_map(|v| (Operator::In, Value::from(v))),
            (-20i64..20).prop_map(|n| (Operator::Gte, json!(n))),
            (-20i64..0, 0i64..20).prop_map(|(a, b)| (Operator::Between, json!([a, b]))),
            Just((Operator::Contains, json!("a"))),
            Just((Operator::Matches, json!("^[ab]"))),
        ],
        -1000i32..=1000,
        "[a-z ]{0,8}",
    );
    let bands = prop::collection::btree_map(0i32..=100, priority(), 0..5);
    (prop::collection::vec(rule, 0..12), bands, priority()).prop_map(|(rules, bands, default)| {
        ScoringRules {
            rules: rules
                .into_iter()
                .enumerate()
                .map(|(i, (f, (operator, value), points, reason))| Rule {
                    id: format!("r{i}"),
                    field: format!("f{f}"),
                    operator,
                    value,
                    points,
                    reason,
                })
                .collect(),
            priority_bands: bands
                .into_iter()
                .map(|(min_score, priority)| PriorityBand {
                    min_score,
                    priority,
                })
                .collect(),
            default_priority: default,
        }
    })
}

fn form() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec(prop_oneof![present().prop_map(Some), blank()], 4).prop_map(|vals| {
        vals.into_iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (format!("f{i}"), v)))
            .collect()
    })
}

fn one(op: Operator, value: Value) -> crate::CompiledRules {
    ScoringRules {
        rules: vec![Rule {
            id: "r".into(),
            field: "f".into(),
            operator: op,
            value,
            points: 1,
            reason: String::new(),
        }],
        ..ScoringRules::default()
    }
    .compile()
    .unwrap()
}

fn matches(op: Operator, value: &Value, field: Option<&Value>) -> bool {
    let mut form = Map::new();
    if let Some(f) = field {
        form.insert("f".into(), f.clone());
    }
    !one(op, value.clone()).evaluate(&form).matched.is_empty()
}

/// Numbers as doubles, recursively (`2` and `2.0` compare equal).
fn norm(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::from(items.iter().map(norm).collect::<Vec<_>>()),
        other => other.clone(),
    }
}

proptest! {
    #[test]
    fn score_is_clamped_raw_sum_and_priority_follows_bands(set in rule_set(), form in form()) {
        let out = set.compile().unwrap().evaluate(&form);
        prop_assert!((0..=100).contains(&out.score));
        let sum: i32 = out.matched.iter().map(|m| m.points).sum();
        prop_assert_eq!(out.raw_score, sum);
        prop_assert_eq!(out.score, sum.clamp(0, 100));
        let expected = set
            .priority_bands
            .iter()
            .filter(|b| b.min_score <= out.score)
            .max_by_key(|b| b.min_score)
            .map_or(set.default_priority, |b| b.priority);
        prop_assert_eq!(out.priority, expected);
        // Matched rules appear in rule order.
        let order: Vec<usize> = out
            .matched
            .iter()
            .map(|m| set.rules.iter().position(|r| r.id == m.rule_id).unwrap())
            .collect();
        prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn not_equals_and_not_in_are_complements_for_present_fields(
        operand in scalar(),
        list in prop::collection::vec(scalar(), 1..4),
        field in present(),
    ) {
        prop_assert_eq!(
            matches(Operator::NotEquals, &operand, Some(&field)),
            !matches(Operator::Equals, &operand, Some(&field))
        );
        let list = Value::from(list);
        prop_assert_eq!(
            matches(Operator::NotIn, &list, Some(&field)),
            !matches(Operator::In, &list, Some(&field))
        );
        // EQUALS is symmetric for scalars.
        if matches!(field, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
            prop_assert_eq!(
                matches(Operator::Equals, &operand, Some(&field)),
                matches(Operator::Equals, &field, Some(&operand))
            );
        }
    }

    #[test]
    fn blank_fields_match_nothing(set in rule_set(), field in blank()) {
        let compiled = set.compile().unwrap();
        let mut form = Map::new();
        if let Some(v) = field {
            for i in 0..4 {
                form.insert(format!("f{i}"), v.clone());
            }
        }
        let out = compiled.evaluate(&form);
        prop_assert!(out.matched.is_empty());
        prop_assert_eq!(out.score, 0);
    }

    #[test]
    fn json_and_proto_round_trips_are_lossless(set in rule_set()) {
        let as_json = serde_json::to_value(&set).unwrap();
        prop_assert_eq!(&from_json(&as_json, "scoringRules").unwrap(), &set);
        prop_assert_eq!(&serde_json::from_value::<ScoringRules>(as_json).unwrap(), &set);
        let back = from_proto(&to_proto(&set), "scoringRules").unwrap();
        // Proto numbers are doubles: compare by JSON meaning (whole numbers come back whole).
        prop_assert_eq!(back.rules.len(), set.rules.len());
        for (a, b) in back.rules.iter().zip(&set.rules) {
            prop_assert_eq!(&a.id, &b.id);
            prop_assert_eq!(a.operator, b.operator);
            prop_assert_eq!(a.points, b.points);
            prop_assert_eq!(&a.field, &b.field);
            prop_assert_eq!(&a.reason, &b.reason);
            prop_assert_eq!(norm(&a.value), norm(&b.value));
        }
        prop_assert_eq!(&back.priority_bands, &set.priority_bands);
        prop_assert_eq!(back.default_priority, set.default_priority);
        prop_assert!(set.validate("scoringRules", None).is_ok());
    }
}
