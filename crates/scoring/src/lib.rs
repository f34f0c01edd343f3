//! `lms-scoring`: the exact scoring-rules contract shared by the config service (which
//! checks a rule set when a product version is saved) and the lead service (which scores
//! every submission). It owns the rule-set model in its REST/JSON shape
//! (`{rules, priorityBands, defaultPriority}`), validation with field paths
//! (`scoringRules.rules[2].value`), compilation (regexes built once, size-limited) and
//! evaluation (clamped score, raw score, priority, matched rules), plus the conversions
//! to and from `lms.config.v1.ScoringRules`.
//!
//! It is pure: no I/O, no clock, no logging, no tonic `Status`; callers turn the returned
//! [`Violation`]s into their own errors. Evaluation never fails: a value of the wrong type
//! simply does not match.
//!
//! ```
//! use lms_scoring::{from_json, Priority};
//! let rules = from_json(&serde_json::json!({
//!     "rules": [{"id": "r1", "field": "country", "operator": "EQUALS",
//!                "value": "India", "points": 30, "reason": "home market"}],
//!     "priorityBands": [{"minScore": 25, "priority": "HIGH"}]
//! }), "scoringRules").unwrap();
//! let compiled = rules.compile().unwrap();
//! let form = serde_json::json!({"country": " india "});
//! let outcome = compiled.evaluate(form.as_object().unwrap());
//! assert_eq!((outcome.score, outcome.priority), (30, Priority::High));
//! ```

mod convert;
mod eval;
mod model;
mod parse;
mod validate;
mod value;

pub use convert::{from_proto, priority_from_proto, priority_to_proto, to_proto};
pub use eval::{CompiledRules, Matched, Outcome};
pub use lms_platform::error::Violation;
pub use model::{
    MAX_ID_CHARS, MAX_PATTERN_CHARS, MAX_POINTS, MAX_REASON_CHARS, MAX_RULES, MAX_SCORE,
    MIN_POINTS, MIN_SCORE, Operator, Priority, PriorityBand, REGEX_SIZE_LIMIT, Rule, ScoringRules,
};
pub use parse::from_json;
