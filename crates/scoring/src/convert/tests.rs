//! Proto conversions.

#![allow(clippy::unwrap_used)]

use crate::{
    Operator, Priority, ScoringRules, from_json, from_proto, priority_from_proto,
    priority_to_proto, to_proto,
};
use lms_proto::common::v1::LeadPriority;
use lms_proto::config::v1 as pb;
use serde_json::json;

#[test]
fn priorities_map_to_lead_priority() {
    assert_eq!(priority_to_proto(Priority::Low), LeadPriority::Low as i32);
    assert_eq!(
        priority_to_proto(Priority::Medium),
        LeadPriority::Medium as i32
    );
    assert_eq!(priority_to_proto(Priority::High), LeadPriority::High as i32);
    assert_eq!(
        priority_to_proto(Priority::Urgent),
        LeadPriority::Urgent as i32
    );
    for p in Priority::ALL {
        assert_eq!(priority_from_proto(priority_to_proto(p)), Some(p));
    }
    assert_eq!(priority_from_proto(0), None);
    assert_eq!(priority_from_proto(99), None);
}

#[test]
fn round_trips_through_proto() {
    let set = from_json(
        &json!({
            "rules": [
                {"id": "a", "field": "f", "operator": "IN", "value": ["x", 5, 2.5, true], "points": -3, "reason": "r"},
                {"id": "b", "field": "g", "operator": "EXISTS", "points": 4}
            ],
            "priorityBands": [{"minScore": 10, "priority": "URGENT"}],
            "defaultPriority": "HIGH"
        }),
        "scoringRules",
    )
    .unwrap();
    let proto = to_proto(&set);
    assert_eq!(proto.rules[0].operator, pb::ScoringOperator::In as i32);
    assert!(
        proto.rules[1].value.is_none(),
        "null operand is an absent value"
    );
    assert_eq!(proto.default_priority, LeadPriority::High as i32);
    assert_eq!(from_proto(&proto, "scoringRules").unwrap(), set);
}

#[test]
fn every_operator_maps_both_ways() {
    for op in Operator::ALL {
        let set = ScoringRules {
            rules: vec![crate::Rule {
                id: "r".into(),
                field: "f".into(),
                operator: op,
                value: json!("v"),
                points: 1,
                reason: String::new(),
            }],
            ..ScoringRules::default()
        };
        let proto = to_proto(&set);
        let name = pb::ScoringOperator::try_from(proto.rules[0].operator)
            .unwrap()
            .as_str_name();
        assert_eq!(name, format!("SCORING_OPERATOR_{}", op.as_str()));
        assert_eq!(from_proto(&proto, "s").unwrap().rules[0].operator, op);
    }
}

#[test]
fn unset_or_unknown_enums_are_violations() {
    let proto = pb::ScoringRules {
        rules: vec![
            pb::ScoringRule {
                id: "a".into(),
                field: "f".into(),
                operator: 0,
                ..Default::default()
            },
            pb::ScoringRule {
                id: "b".into(),
                field: "f".into(),
                operator: 77,
                ..Default::default()
            },
            pb::ScoringRule {
                id: "c".into(),
                field: "f".into(),
                operator: pb::ScoringOperator::Exists as i32,
                ..Default::default()
            },
        ],
        priority_bands: vec![
            pb::PriorityBand {
                min_score: 10,
                priority: 0,
            },
            pb::PriorityBand {
                min_score: 20,
                priority: 9,
            },
        ],
        default_priority: 42,
    };
    let vs: Vec<(String, String)> = from_proto(&proto, "scoringRules")
        .unwrap_err()
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect();
    let ops =
        "EQUALS, NOT_EQUALS, IN, NOT_IN, CONTAINS, GT, GTE, LT, LTE, BETWEEN, EXISTS, MATCHES";
    let prios = "LOW, MEDIUM, HIGH, URGENT";
    assert_eq!(
        vs,
        vec![
            (
                "scoringRules.rules[0].operator".into(),
                format!("is required; expected one of {ops}")
            ),
            (
                "scoringRules.rules[1].operator".into(),
                format!("unknown operator 77; expected one of {ops}")
            ),
            (
                "scoringRules.priorityBands[0].priority".into(),
                format!("is required; expected one of {prios}")
            ),
            (
                "scoringRules.priorityBands[1].priority".into(),
                format!("unknown priority 9; expected one of {prios}")
            ),
            (
                "scoringRules.defaultPriority".into(),
                format!("unknown priority 42; expected one of {prios}")
            ),
        ]
    );
}

#[test]
fn unset_default_priority_is_low() {
    let set = from_proto(&pb::ScoringRules::default(), "scoringRules").unwrap();
    assert_eq!(set, ScoringRules::default());
    assert_eq!(set.default_priority, Priority::Low);
}
