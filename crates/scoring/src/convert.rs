//! Conversions between the rule-set model and `lms.config.v1.ScoringRules`, and between
//! [`Priority`] and `lms.common.v1.LeadPriority`. `from_proto` checks only what the proto
//! cannot express (unset or unknown enum values); run `validate` for the rest.

use crate::model::{Operator, Priority, PriorityBand, Rule, ScoringRules};
use crate::validate::join;
use lms_platform::error::Violation;
use lms_platform::json;
use lms_proto::common::v1::LeadPriority;
use lms_proto::config::v1 as pb;
use pb::ScoringOperator;
use serde_json::Value;

/// Converts a rule set to its proto form (a `null` operand becomes an absent `value`).
pub fn to_proto(r: &ScoringRules) -> pb::ScoringRules {
    pb::ScoringRules {
        rules: r
            .rules
            .iter()
            .map(|rule| pb::ScoringRule {
                id: rule.id.clone(),
                field: rule.field.clone(),
                operator: operator_to_proto(rule.operator) as i32,
                value: (!rule.value.is_null()).then(|| json::to_value(&rule.value)),
                points: rule.points,
                reason: rule.reason.clone(),
            })
            .collect(),
        priority_bands: r
            .priority_bands
            .iter()
            .map(|b| pb::PriorityBand {
                min_score: b.min_score,
                priority: priority_to_proto(b.priority),
            })
            .collect(),
        default_priority: priority_to_proto(r.default_priority),
    }
}

/// Converts a proto rule set. An unset (`UNSPECIFIED`) or unknown operator, or a band
/// without a known priority, is a violation under `prefix`; an unset `default_priority`
/// means `LOW`.
pub fn from_proto(p: &pb::ScoringRules, prefix: &str) -> Result<ScoringRules, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut rules = Vec::with_capacity(p.rules.len());
    for (i, rule) in p.rules.iter().enumerate() {
        let operator = match ScoringOperator::try_from(rule.operator) {
            Ok(op) => operator_from_proto(op),
            Err(_) => None,
        };
        let Some(operator) = operator else {
            let what = if rule.operator == 0 {
                "is required".to_string()
            } else {
                format!("unknown operator {}", rule.operator)
            };
            violations.push(Violation::new(
                join(prefix, &format!("rules[{i}].operator")),
                format!("{what}; expected one of {}", Operator::expected_list()),
            ));
            continue;
        };
        rules.push(Rule {
            id: rule.id.clone(),
            field: rule.field.clone(),
            operator,
            value: rule.value.as_ref().map_or(Value::Null, json::from_value),
            points: rule.points,
            reason: rule.reason.clone(),
        });
    }
    let mut priority_bands = Vec::with_capacity(p.priority_bands.len());
    for (j, band) in p.priority_bands.iter().enumerate() {
        match priority_from_proto(band.priority) {
            Some(priority) => priority_bands.push(PriorityBand {
                min_score: band.min_score,
                priority,
            }),
            None => violations.push(priority_violation(
                join(prefix, &format!("priorityBands[{j}].priority")),
                band.priority,
            )),
        }
    }
    let default_priority = if p.default_priority == 0 {
        Priority::default()
    } else if let Some(d) = priority_from_proto(p.default_priority) {
        d
    } else {
        violations.push(priority_violation(
            join(prefix, "defaultPriority"),
            p.default_priority,
        ));
        Priority::default()
    };
    if violations.is_empty() {
        Ok(ScoringRules {
            rules,
            priority_bands,
            default_priority,
        })
    } else {
        Err(violations)
    }
}

fn priority_violation(path: String, v: i32) -> Violation {
    let what = if v == 0 {
        "is required".to_string()
    } else {
        format!("unknown priority {v}")
    };
    Violation::new(
        path,
        format!("{what}; expected one of {}", Priority::expected_list()),
    )
}

/// Converts a priority to its `LeadPriority` number.
pub fn priority_to_proto(p: Priority) -> i32 {
    let lp = match p {
        Priority::Low => LeadPriority::Low,
        Priority::Medium => LeadPriority::Medium,
        Priority::High => LeadPriority::High,
        Priority::Urgent => LeadPriority::Urgent,
    };
    lp as i32
}

/// Converts a `LeadPriority` number; `None` for `UNSPECIFIED` and unknown numbers.
pub fn priority_from_proto(v: i32) -> Option<Priority> {
    match LeadPriority::try_from(v).ok()? {
        LeadPriority::Unspecified => None,
        LeadPriority::Low => Some(Priority::Low),
        LeadPriority::Medium => Some(Priority::Medium),
        LeadPriority::High => Some(Priority::High),
        LeadPriority::Urgent => Some(Priority::Urgent),
    }
}

fn operator_to_proto(op: Operator) -> ScoringOperator {
    match op {
        Operator::Equals => ScoringOperator::Equals,
        Operator::NotEquals => ScoringOperator::NotEquals,
        Operator::In => ScoringOperator::In,
        Operator::NotIn => ScoringOperator::NotIn,
        Operator::Contains => ScoringOperator::Contains,
        Operator::Gt => ScoringOperator::Gt,
        Operator::Gte => ScoringOperator::Gte,
        Operator::Lt => ScoringOperator::Lt,
        Operator::Lte => ScoringOperator::Lte,
        Operator::Between => ScoringOperator::Between,
        Operator::Exists => ScoringOperator::Exists,
        Operator::Matches => ScoringOperator::Matches,
    }
}

fn operator_from_proto(op: ScoringOperator) -> Option<Operator> {
    Some(match op {
        ScoringOperator::Unspecified => return None,
        ScoringOperator::Equals => Operator::Equals,
        ScoringOperator::NotEquals => Operator::NotEquals,
        ScoringOperator::In => Operator::In,
        ScoringOperator::NotIn => Operator::NotIn,
        ScoringOperator::Contains => Operator::Contains,
        ScoringOperator::Gt => Operator::Gt,
        ScoringOperator::Gte => Operator::Gte,
        ScoringOperator::Lt => Operator::Lt,
        ScoringOperator::Lte => Operator::Lte,
        ScoringOperator::Between => Operator::Between,
        ScoringOperator::Exists => Operator::Exists,
        ScoringOperator::Matches => Operator::Matches,
    })
}

#[cfg(test)]
mod tests;
