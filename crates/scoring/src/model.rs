//! The rule-set model in its REST/JSON shape (camelCase), also used for config hashing,
//! and the limits a rule set must respect.

use serde::{Deserialize, Serialize};

/// Most rules in one rule set.
pub const MAX_RULES: usize = 200;
/// Longest rule id, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Longest rule reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Fewest points a rule may give.
pub const MIN_POINTS: i32 = -1000;
/// Most points a rule may give.
pub const MAX_POINTS: i32 = 1000;
/// Lowest score (and lowest band `minScore`).
pub const MIN_SCORE: i32 = 0;
/// Highest score (and highest band `minScore`).
pub const MAX_SCORE: i32 = 100;
/// Longest `MATCHES` pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 1000;
/// Compiled-size limit of a `MATCHES` regex (and of its lazy DFA cache), in bytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A product's scoring rule set:
/// `{"rules": [...], "priorityBands": [{"minScore", "priority"}], "defaultPriority"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoringRules {
    /// The rules, evaluated in order (the order of the breakdown).
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Score-to-priority bands: the band with the highest `minScore` not above the score wins.
    #[serde(default)]
    pub priority_bands: Vec<PriorityBand>,
    /// Priority when no band applies.
    #[serde(default)]
    pub default_priority: Priority,
}

/// One rule: when `field` of the form data satisfies `operator` with `value`, `points` count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Stable id, unique in the rule set, 1 to 64 characters.
    pub id: String,
    /// A top-level key of `formData`.
    pub field: String,
    /// The comparison.
    pub operator: Operator,
    /// The operand; its shape depends on the operator (`null` for `EXISTS`).
    #[serde(default)]
    pub value: serde_json::Value,
    /// Points when the rule matches, -1000..=1000; may be negative.
    pub points: i32,
    /// Why the rule exists (shown in the breakdown), at most 500 characters.
    #[serde(default)]
    pub reason: String,
}

/// Maps scores from `min_score` up to the next band to `priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriorityBand {
    /// Lowest score of the band, 0..=100.
    pub min_score: i32,
    /// The band's priority.
    pub priority: Priority,
}

/// A rule's comparison. JSON names are `SCREAMING_SNAKE_CASE` (`"NOT_IN"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    /// Equal: strings trimmed and case-insensitive, numbers numerically.
    Equals,
    /// Not `EQUALS` (for a present, non-empty field).
    NotEquals,
    /// `EQUALS` one element of a non-empty array.
    In,
    /// `EQUALS` no element of a non-empty array (for a present, non-empty field).
    NotIn,
    /// Case-insensitive substring; an array field matches when any element does.
    Contains,
    /// Greater than (numbers or numeric strings).
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Inclusive range `[low, high]`.
    Between,
    /// Present, not null and not an empty string.
    Exists,
    /// Unanchored regular expression (Rust `regex` syntax).
    Matches,
}

impl Operator {
    /// Every operator, in declaration order.
    pub const ALL: [Operator; 12] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
        Operator::Gt,
        Operator::Gte,
        Operator::Lt,
        Operator::Lte,
        Operator::Between,
        Operator::Exists,
        Operator::Matches,
    ];

    /// Returns the JSON name, e.g. `"NOT_EQUALS"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "EQUALS",
            Operator::NotEquals => "NOT_EQUALS",
            Operator::In => "IN",
            Operator::NotIn => "NOT_IN",
            Operator::Contains => "CONTAINS",
            Operator::Gt => "GT",
            Operator::Gte => "GTE",
            Operator::Lt => "LT",
            Operator::Lte => "LTE",
            Operator::Between => "BETWEEN",
            Operator::Exists => "EXISTS",
            Operator::Matches => "MATCHES",
        }
    }

    /// Parses a JSON name (exact, upper case); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Returns the names of all operators, comma-separated (for error messages).
    pub(crate) fn expected_list() -> String {
        Self::ALL.map(Operator::as_str).join(", ")
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lead's priority, ordered by urgency (`Low < Medium < High < Urgent`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    /// Low.
    #[default]
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Urgent: work it first.
    Urgent,
}

impl Priority {
    /// Every priority, least urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ];

    /// Returns the JSON name, e.g. `"URGENT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "LOW",
            Priority::Medium => "MEDIUM",
            Priority::High => "HIGH",
            Priority::Urgent => "URGENT",
        }
    }

    /// Parses a JSON name (exact, upper case); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Returns the names of all priorities, comma-separated (for error messages).
    pub(crate) fn expected_list() -> String {
        Self::ALL.map(Priority::as_str).join(", ")
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operator_names_round_trip_through_parse_and_serde() {
        for op in Operator::ALL {
            assert_eq!(Operator::parse(op.as_str()), Some(op));
            assert_eq!(serde_json::to_value(op).unwrap(), json!(op.as_str()));
            let back: Operator = serde_json::from_value(json!(op.as_str())).unwrap();
            assert_eq!(back, op);
        }
        assert_eq!(Operator::NotIn.as_str(), "NOT_IN");
        assert_eq!(Operator::NotEquals.as_str(), "NOT_EQUALS");
        assert_eq!(Operator::parse("equals"), None);
        assert_eq!(Operator::parse("FOO"), None);
    }

    #[test]
    fn priority_names_order_and_default() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), json!(p.as_str()));
        }
        assert!(Priority::Low < Priority::Medium);
        assert!(Priority::Medium < Priority::High);
        assert!(Priority::High < Priority::Urgent);
        assert_eq!(Priority::default(), Priority::Low);
        assert_eq!(Priority::parse("low"), None);
    }

    #[test]
    fn json_shape_is_camel_case_with_defaults() {
        let r: ScoringRules = serde_json::from_value(json!({
            "rules": [{"id": "a", "field": "f", "operator": "EXISTS", "points": 5}],
            "priorityBands": [{"minScore": 10, "priority": "HIGH"}]
        }))
        .unwrap();
        assert_eq!(r.default_priority, Priority::Low);
        assert_eq!(r.rules[0].value, serde_json::Value::Null);
        assert_eq!(r.rules[0].reason, "");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "rules": [{"id": "a", "field": "f", "operator": "EXISTS", "value": null,
                           "points": 5, "reason": ""}],
                "priorityBands": [{"minScore": 10, "priority": "HIGH"}],
                "defaultPriority": "LOW"
            })
        );
        let empty: ScoringRules = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty, ScoringRules::default());
        assert!(serde_json::from_value::<ScoringRules>(json!({"extra": 1})).is_err());
    }
}
