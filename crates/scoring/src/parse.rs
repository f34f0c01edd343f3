//! Parsing of a REST body's `scoringRules` with violations that name the bad path, instead
//! of serde's first-error-only messages. It checks shape and types only; call
//! [`ScoringRules::validate`] afterwards for the rules' meaning.

use crate::model::{
    MAX_POINTS, MAX_SCORE, MIN_POINTS, MIN_SCORE, Operator, Priority, PriorityBand, Rule,
    ScoringRules,
};
use crate::validate::{join, kind};
use lms_platform::error::Violation;
use serde_json::{Map, Value};

/// Parses a JSON value (the REST body's `scoringRules`; `null` is the empty rule set) into a
/// rule set. Violations name the bad path under `prefix`, e.g.
/// `scoringRules.rules[1].operator: unknown operator "FOO"; expected one of EQUALS, ...`.
/// Unknown keys are rejected. All shape violations are returned together.
pub fn from_json(v: &Value, prefix: &str) -> Result<ScoringRules, Vec<Violation>> {
    let mut p = Parser {
        violations: Vec::new(),
    };
    let set = p.rule_set(v, prefix);
    if p.violations.is_empty() {
        Ok(set)
    } else {
        Err(p.violations)
    }
}

struct Parser {
    violations: Vec<Violation>,
}

impl Parser {
    fn fail(&mut self, path: String, description: impl Into<String>) {
        self.violations.push(Violation::new(path, description));
    }

    fn rule_set(&mut self, v: &Value, prefix: &str) -> ScoringRules {
        let mut set = ScoringRules::default();
        let obj = match v {
            Value::Null => return set,
            Value::Object(o) => o,
            other => {
                self.fail(
                    prefix.to_string(),
                    format!("must be an object, got {}", kind(other)),
                );
                return set;
            }
        };
        self.unknown_keys(obj, prefix, &["rules", "priorityBands", "defaultPriority"]);
        if let Some(items) = self.array(obj.get("rules"), join(prefix, "rules")) {
            for (i, item) in items.iter().enumerate() {
                if let Some(rule) = self.rule(item, &join(prefix, &format!("rules[{i}]"))) {
                    set.rules.push(rule);
                }
            }
        }
        if let Some(items) = self.array(obj.get("priorityBands"), join(prefix, "priorityBands")) {
            for (j, item) in items.iter().enumerate() {
                if let Some(band) = self.band(item, &join(prefix, &format!("priorityBands[{j}]"))) {
                    set.priority_bands.push(band);
                }
            }
        }
        match obj.get("defaultPriority") {
            None | Some(Value::Null) => {}
            Some(v) => {
                if let Some(p) = self.priority(v, join(prefix, "defaultPriority")) {
                    set.default_priority = p;
                }
            }
        }
        set
    }

    fn rule(&mut self, v: &Value, at: &str) -> Option<Rule> {
        let Value::Object(obj) = v else {
            self.fail(
                at.to_string(),
                format!("must be an object, got {}", kind(v)),
            );
            return None;
        };
        self.unknown_keys(
            obj,
            at,
            &["id", "field", "operator", "value", "points", "reason"],
        );
        let id = self.required_string(obj, at, "id");
        let field = self.required_string(obj, at, "field");
        let operator = match obj.get("operator") {
            None | Some(Value::Null) => {
                self.fail(
                    join(at, "operator"),
                    format!("is required; expected one of {}", Operator::expected_list()),
                );
                None
            }
            Some(Value::String(s)) => {
                let op = Operator::parse(s);
                if op.is_none() {
                    self.fail(
                        join(at, "operator"),
                        format!(
                            "unknown operator \"{s}\"; expected one of {}",
                            Operator::expected_list()
                        ),
                    );
                }
                op
            }
            Some(other) => {
                self.fail(
                    join(at, "operator"),
                    format!(
                        "must be a string, got {}; expected one of {}",
                        kind(other),
                        Operator::expected_list()
                    ),
                );
                None
            }
        };
        let points = match obj.get("points") {
            None | Some(Value::Null) => {
                self.fail(join(at, "points"), "is required");
                None
            }
            Some(v) => self.int(v, join(at, "points"), MIN_POINTS, MAX_POINTS),
        };
        let reason = match obj.get("reason") {
            None | Some(Value::Null) => Some(String::new()),
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.fail(
                    join(at, "reason"),
                    format!("must be a string, got {}", kind(other)),
                );
                None
            }
        };
        Some(Rule {
            id: id?,
            field: field?,
            operator: operator?,
            value: obj.get("value").cloned().unwrap_or(Value::Null),
            points: points?,
            reason: reason?,
        })
    }

    fn band(&mut self, v: &Value, at: &str) -> Option<PriorityBand> {
        let Value::Object(obj) = v else {
            self.fail(
                at.to_string(),
                format!("must be an object, got {}", kind(v)),
            );
            return None;
        };
        self.unknown_keys(obj, at, &["minScore", "priority"]);
        let min_score = match obj.get("minScore") {
            None | Some(Value::Null) => {
                self.fail(join(at, "minScore"), "is required");
                None
            }
            Some(v) => self.int(v, join(at, "minScore"), MIN_SCORE, MAX_SCORE),
        };
        let priority = match obj.get("priority") {
            None | Some(Value::Null) => {
                self.fail(
                    join(at, "priority"),
                    format!("is required; expected one of {}", Priority::expected_list()),
                );
                None
            }
            Some(v) => self.priority(v, join(at, "priority")),
        };
        Some(PriorityBand {
            min_score: min_score?,
            priority: priority?,
        })
    }

    fn priority(&mut self, v: &Value, path: String) -> Option<Priority> {
        let parsed = v.as_str().and_then(Priority::parse);
        if parsed.is_none() {
            let got = match v {
                Value::String(s) => format!("\"{s}\""),
                other => kind(other).to_string(),
            };
            self.fail(
                path,
                format!(
                    "unknown priority {got}; expected one of {}",
                    Priority::expected_list()
                ),
            );
        }
        parsed
    }

    /// An integer (a whole JSON number); the range only words the message for numbers that
    /// do not fit an `i32` (the rest is `validate`'s job).
    fn int(&mut self, v: &Value, path: String, lo: i32, hi: i32) -> Option<i32> {
        let whole = match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            _ => None,
        };
        match whole {
            Some(w) => match i32::try_from(w) {
                Ok(i) => Some(i),
                Err(_) => {
                    self.fail(path, format!("must be between {lo} and {hi}, got {w}"));
                    None
                }
            },
            None => {
                let got = match v {
                    Value::Number(n) => n.to_string(),
                    other => kind(other).to_string(),
                };
                self.fail(path, format!("must be an integer, got {got}"));
                None
            }
        }
    }

    fn required_string(&mut self, obj: &Map<String, Value>, at: &str, key: &str) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.fail(join(at, key), "is required");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.fail(
                    join(at, key),
                    format!("must be a string, got {}", kind(other)),
                );
                None
            }
        }
    }

    fn array<'v>(&mut self, v: Option<&'v Value>, path: String) -> Option<&'v Vec<Value>> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                self.fail(path, format!("must be an array, got {}", kind(other)));
                None
            }
        }
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, at: &str, allowed: &[&str]) {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.fail(
                    join(at, key),
                    format!("unknown field; expected one of {}", allowed.join(", ")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
