//! Evaluation of a compiled rule set against a submission's `formData`: which rules match,
//! the clamped score, the raw score and the priority. Evaluation never fails: a field of
//! the wrong type does not match, and a blank field (absent, null, empty string) matches no
//! rule at all, `EXISTS`, `NOT_EQUALS` and `NOT_IN` included.

use crate::model::{MAX_SCORE, MIN_SCORE, Priority, PriorityBand};
use crate::value::{as_number, is_blank, scalar_text};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A validated rule set ready for evaluation (regexes compiled once). `Send + Sync`;
/// share it in an `Arc`.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    rules: Vec<CompiledRule>,
    /// Sorted by `min_score`, highest first.
    bands: Vec<PriorityBand>,
    default_priority: Priority,
}

/// The result of scoring one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Sum of the matching rules' points, clamped to 0..=100.
    pub score: i32,
    /// Sum of the matching rules' points, unclamped.
    pub raw_score: i32,
    /// Priority of the band with the highest `minScore` not above `score`, else the default.
    pub priority: Priority,
    /// The matching rules, in rule order.
    pub matched: Vec<Matched>,
}

/// One matching rule, as shown in a lead's score breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matched {
    /// The rule's id.
    pub rule_id: String,
    /// The form field it looked at.
    pub field: String,
    /// The points it gave (may be negative).
    pub points: i32,
    /// The rule's reason.
    pub reason: String,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) id: String,
    pub(crate) field: String,
    pub(crate) points: i32,
    pub(crate) reason: String,
    pub(crate) test: Test,
}

/// An `EQUALS`/`IN` operand.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    /// A JSON number: the field must denote the same number.
    Num(f64),
    /// A string, trimmed and lowercased; `num` when it is also numeric.
    Text { lower: String, num: Option<f64> },
    /// A boolean: the field must be the same boolean or its string.
    Bool(bool),
}

/// A rule's compiled comparison.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Equals(Operand),
    NotEquals(Operand),
    In(Vec<Operand>),
    NotIn(Vec<Operand>),
    /// Lowercased needle.
    Contains(String),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Between(f64, f64),
    Exists,
    Matches(Regex),
}

impl Operand {
    pub(crate) fn text(s: &str) -> Self {
        Operand::Text {
            lower: s.trim().to_lowercase(),
            num: crate::value::parse_number(s),
        }
    }

    /// The `EQUALS` comparison of a present, non-blank field with this operand.
    fn equals(&self, field: &Value) -> bool {
        match self {
            Operand::Num(n) => as_number(field) == Some(*n),
            Operand::Text { lower, num } => {
                if let (Some(a), Some(b)) = (num, as_number(field)) {
                    return *a == b;
                }
                scalar_text(field).is_some_and(|t| t.trim().to_lowercase() == *lower)
            }
            Operand::Bool(b) => match field {
                Value::Bool(x) => x == b,
                Value::String(s) => match s.trim().to_lowercase().as_str() {
                    "true" => *b,
                    "false" => !*b,
                    _ => false,
                },
                _ => false,
            },
        }
    }
}

impl Test {
    /// Whether a present, non-blank field passes.
    fn matches(&self, field: &Value) -> bool {
        match self {
            Test::Equals(o) => o.equals(field),
            Test::NotEquals(o) => !o.equals(field),
            Test::In(os) => os.iter().any(|o| o.equals(field)),
            Test::NotIn(os) => !os.iter().any(|o| o.equals(field)),
            Test::Contains(needle) => {
                any_scalar(field, |t| t.to_lowercase().contains(needle.as_str()))
            }
            Test::Gt(x) => as_number(field).is_some_and(|f| f > *x),
            Test::Gte(x) => as_number(field).is_some_and(|f| f >= *x),
            Test::Lt(x) => as_number(field).is_some_and(|f| f < *x),
            Test::Lte(x) => as_number(field).is_some_and(|f| f <= *x),
            Test::Between(lo, hi) => as_number(field).is_some_and(|f| *lo <= f && f <= *hi),
            Test::Exists => true,
            Test::Matches(re) => any_scalar(field, |t| re.is_match(t)),
        }
    }
}

/// Applies `pred` to the text of a scalar field, or of each scalar element of an array field.
fn any_scalar(field: &Value, pred: impl Fn(&str) -> bool) -> bool {
    match field {
        Value::Array(items) => items
            .iter()
            .any(|item| scalar_text(item).is_some_and(|t| pred(&t))),
        other => scalar_text(other).is_some_and(|t| pred(&t)),
    }
}

impl CompiledRules {
    pub(crate) fn new(
        rules: Vec<CompiledRule>,
        bands: &[PriorityBand],
        default_priority: Priority,
    ) -> Self {
        let mut bands = bands.to_vec();
        bands.sort_by_key(|b| std::cmp::Reverse(b.min_score));
        Self {
            rules,
            bands,
            default_priority,
        }
    }

    /// Scores a submission's `formData` (top-level keys are the rules' fields).
    pub fn evaluate(&self, form: &Map<String, Value>) -> Outcome {
        let mut raw: i64 = 0;
        let mut matched = Vec::new();
        for rule in &self.rules {
            let field = match form.get(&rule.field) {
                Some(v) if !is_blank(Some(v)) => v,
                _ => continue,
            };
            if rule.test.matches(field) {
                raw += i64::from(rule.points);
                matched.push(Matched {
                    rule_id: rule.id.clone(),
                    field: rule.field.clone(),
                    points: rule.points,
                    reason: rule.reason.clone(),
                });
            }
        }
        let score = clamp_i32(raw, MIN_SCORE, MAX_SCORE);
        Outcome {
            score,
            raw_score: clamp_i32(raw, i32::MIN, i32::MAX),
            priority: self.priority_for(score),
            matched,
        }
    }

    /// The priority of the band with the highest `minScore` not above `score`, else the
    /// default priority.
    pub fn priority_for(&self, score: i32) -> Priority {
        self.bands
            .iter()
            .find(|b| b.min_score <= score)
            .map_or(self.default_priority, |b| b.priority)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules (every score is 0).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn clamp_i32(v: i64, lo: i32, hi: i32) -> i32 {
    let clamped = v.clamp(i64::from(lo), i64::from(hi));
    i32::try_from(clamped).unwrap_or(hi)
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
