//! Checks a rule set on save and turns each rule's operand into its compiled test. Both
//! [`ScoringRules::validate`] and [`ScoringRules::compile`] run the same pass, so a rule set
//! that validates always compiles. Every violation is collected, each with its exact path.

use crate::eval::{CompiledRule, CompiledRules, Operand, Test};
use crate::model::{
    MAX_ID_CHARS, MAX_PATTERN_CHARS, MAX_POINTS, MAX_REASON_CHARS, MAX_RULES, MAX_SCORE,
    MIN_POINTS, MIN_SCORE, Operator, REGEX_SIZE_LIMIT, ScoringRules,
};
use crate::value::{as_number, render_number};
use lms_platform::error::Violation;
use regex::RegexBuilder;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

impl ScoringRules {
    /// Checks a rule set; `known_fields` = top-level properties of the form schema (`None` =
    /// don't check). Violations have camelCase paths relative to the rule set prefixed by
    /// `prefix`, e.g. `"scoringRules.rules[2].value"`; all of them are returned, not just
    /// the first.
    pub fn validate(
        &self,
        prefix: &str,
        known_fields: Option<&BTreeSet<String>>,
    ) -> Result<(), Vec<Violation>> {
        check(self, prefix, known_fields).map(|_| ())
    }

    /// Validates (without the field check) and compiles the rule set for evaluation; the
    /// violations use the path prefix `"scoringRules"`.
    pub fn compile(&self) -> Result<CompiledRules, Vec<Violation>> {
        check(self, "scoringRules", None)
    }
}

/// Joins a path prefix and a relative path (`"" + "rules[0].id"` stays `"rules[0].id"`).
pub(crate) fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}.{rest}")
    }
}

/// Describes the JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check(
    set: &ScoringRules,
    prefix: &str,
    known_fields: Option<&BTreeSet<String>>,
) -> Result<CompiledRules, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut compiled = Vec::with_capacity(set.rules.len());

    if set.rules.len() > MAX_RULES {
        violations.push(Violation::new(
            join(prefix, "rules"),
            format!(
                "at most {MAX_RULES} rules are allowed, got {}",
                set.rules.len()
            ),
        ));
    }

    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, rule) in set.rules.iter().enumerate() {
        let at = |field: &str| join(prefix, &format!("rules[{i}].{field}"));

        let id_chars = rule.id.chars().count();
        if rule.id.trim().is_empty() {
            violations.push(Violation::new(at("id"), "must not be empty"));
        } else if id_chars > MAX_ID_CHARS {
            violations.push(Violation::new(
                at("id"),
                format!("must be at most {MAX_ID_CHARS} characters, got {id_chars}"),
            ));
        } else if let Some(first) = ids.get(rule.id.as_str()) {
            violations.push(Violation::new(
                at("id"),
                format!("duplicate rule id \"{}\" (also rules[{first}])", rule.id),
            ));
        } else {
            ids.insert(rule.id.as_str(), i);
        }

        if rule.field.trim().is_empty() {
            violations.push(Violation::new(at("field"), "must not be empty"));
        } else if let Some(known) = known_fields
            && !known.contains(&rule.field)
        {
            violations.push(Violation::new(
                at("field"),
                format!("\"{}\" is not a property of formSchema", rule.field),
            ));
        }

        let test = match test_for(rule.operator, &rule.value) {
            Ok(t) => Some(t),
            Err(msg) => {
                violations.push(Violation::new(at("value"), msg));
                None
            }
        };

        if !(MIN_POINTS..=MAX_POINTS).contains(&rule.points) {
            violations.push(Violation::new(
                at("points"),
                format!(
                    "must be between {MIN_POINTS} and {MAX_POINTS}, got {}",
                    rule.points
                ),
            ));
        }

        let reason_chars = rule.reason.chars().count();
        if reason_chars > MAX_REASON_CHARS {
            violations.push(Violation::new(
                at("reason"),
                format!("must be at most {MAX_REASON_CHARS} characters, got {reason_chars}"),
            ));
        }

        if let Some(test) = test {
            compiled.push(CompiledRule {
                id: rule.id.clone(),
                field: rule.field.clone(),
                points: rule.points,
                reason: rule.reason.clone(),
                test,
            });
        }
    }

    let mut mins: HashMap<i32, usize> = HashMap::new();
    for (j, band) in set.priority_bands.iter().enumerate() {
        let at = join(prefix, &format!("priorityBands[{j}].minScore"));
        if !(MIN_SCORE..=MAX_SCORE).contains(&band.min_score) {
            violations.push(Violation::new(
                at,
                format!(
                    "must be between {MIN_SCORE} and {MAX_SCORE}, got {}",
                    band.min_score
                ),
            ));
        } else if let Some(first) = mins.get(&band.min_score) {
            violations.push(Violation::new(
                at,
                format!(
                    "duplicate minScore {} (also priorityBands[{first}])",
                    band.min_score
                ),
            ));
        } else {
            mins.insert(band.min_score, j);
        }
    }

    if violations.is_empty() {
        Ok(CompiledRules::new(
            compiled,
            &set.priority_bands,
            set.default_priority,
        ))
    } else {
        Err(violations)
    }
}

/// Checks an operator's operand and builds its test; `Err` is the violation's description.
fn test_for(op: Operator, value: &Value) -> Result<Test, String> {
    let name = op.as_str();
    match op {
        Operator::Equals | Operator::NotEquals => {
            let operand = operand(value).ok_or_else(|| {
                format!(
                    "{name} needs a string, number or boolean, got {}",
                    kind(value)
                )
            })?;
            Ok(if op == Operator::Equals {
                Test::Equals(operand)
            } else {
                Test::NotEquals(operand)
            })
        }
        Operator::In | Operator::NotIn => {
            let expected =
                format!("{name} needs a non-empty array of strings, numbers or booleans");
            let items = match value {
                Value::Array(items) if !items.is_empty() => items,
                Value::Array(_) => return Err(format!("{expected}, got an empty array")),
                other => return Err(format!("{expected}, got {}", kind(other))),
            };
            let operands = items
                .iter()
                .enumerate()
                .map(|(k, item)| {
                    operand(item)
                        .ok_or_else(|| format!("{expected}; element {k} is {}", kind(item)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == Operator::In {
                Test::In(operands)
            } else {
                Test::NotIn(operands)
            })
        }
        Operator::Contains => match value {
            Value::String(s) if !s.is_empty() => Ok(Test::Contains(s.to_lowercase())),
            Value::String(_) => Err(format!("{name} needs a non-empty string")),
            other => Err(format!(
                "{name} needs a non-empty string, got {}",
                kind(other)
            )),
        },
        Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte => {
            let n = as_number(value).ok_or_else(|| {
                format!(
                    "{name} needs a number or a numeric string, got {}",
                    describe(value)
                )
            })?;
            Ok(match op {
                Operator::Gt => Test::Gt(n),
                Operator::Gte => Test::Gte(n),
                Operator::Lt => Test::Lt(n),
                _ => Test::Lte(n),
            })
        }
        Operator::Between => {
            let expected = format!(
                "{name} needs [low, high]: two numbers or numeric strings with low <= high"
            );
            let Value::Array(items) = value else {
                return Err(format!("{expected}, got {}", kind(value)));
            };
            let [low, high] = items.as_slice() else {
                return Err(format!("{expected}, got {} elements", items.len()));
            };
            let (Some(lo), Some(hi)) = (as_number(low), as_number(high)) else {
                return Err(format!(
                    "{expected}, got [{}, {}]",
                    describe(low),
                    describe(high)
                ));
            };
            if lo > hi {
                return Err(format!("{expected}, got low {lo} > high {hi}"));
            }
            Ok(Test::Between(lo, hi))
        }
        Operator::Exists => Ok(Test::Exists),
        Operator::Matches => {
            let Value::String(pattern) = value else {
                return Err(format!(
                    "{name} needs a regular expression string, got {}",
                    kind(value)
                ));
            };
            let chars = pattern.chars().count();
            if chars > MAX_PATTERN_CHARS {
                return Err(format!(
                    "{name} pattern must be at most {MAX_PATTERN_CHARS} characters, got {chars}"
                ));
            }
            RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(Test::Matches)
                .map_err(|e| regex_message(&e))
        }
    }
}

/// Builds an `EQUALS`/`IN` operand from a scalar; `None` for null, arrays and objects.
fn operand(v: &Value) -> Option<Operand> {
    match v {
        Value::Number(n) => as_number(v)
            .map(Operand::Num)
            .or_else(|| Some(Operand::text(&render_number(n)))),
        Value::String(s) => Some(Operand::text(s)),
        Value::Bool(b) => Some(Operand::Bool(*b)),
        _ => None,
    }
}

/// Describes a value for a "needs a number" message: non-numeric strings are quoted.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("\"{shown}\"")
        }
        Value::Number(n) => render_number(n),
        other => kind(other).to_string(),
    }
}

/// One-line description of a regex error (the syntax error's own text spans lines).
fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => {
            format!("regular expression is too big: its compiled form exceeds {limit} bytes")
        }
        regex::Error::Syntax(text) => {
            let detail = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("error:"))
                .map(str::trim)
                .map(str::to_string)
                .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
            format!("invalid regular expression: {detail}")
        }
        other => format!("invalid regular expression: {other}"),
    }
}

#[cfg(test)]
mod tests;
