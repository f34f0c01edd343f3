//! The write rules of `PUT /lead/api/leads/{id}`: which fields a body may change, which it
//! may only repeat unchanged, and what the update asks of the lead service.

use crate::body::kind;
use crate::convert::lead::lead_json;
use crate::convert::{enums, time};
use crate::error::RestError;
use lms_platform::error::{ApiError, Violation};
use lms_proto::lead::v1 as pb;
use serde_json::{Map, Value};

/// Lead fields a PUT may change.
const WRITABLE: &[&str] = &["status", "priority", "assignee", "leadComment"];
/// Lead fields a PUT may carry only unchanged (so a client can PUT back what it got).
const READ_ONLY: &[&str] = &[
    "id",
    "leadUid",
    "productCode",
    "score",
    "formData",
    "configHash",
    "scoringVersion",
    "createdAt",
    "updatedAt",
    "leadChannel",
    "documentMetadata",
    "scoreBreakdown",
];

/// Compares JSON values as values: numbers numerically, objects by keys.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Compares a read-only field of the body with the stored lead's rendering.
fn unchanged(key: &str, given: &Value, stored: &Value) -> bool {
    if matches!(key, "createdAt" | "updatedAt") {
        let instant = |v: &Value| v.as_str().and_then(time::parse_instant);
        return match (instant(given), instant(stored)) {
            (Some(a), Some(b)) => a == b,
            _ => given.is_null() && stored.is_null(),
        };
    }
    same(given, stored)
}

/// Reads an enum field of a PUT body: the new value when it differs from `current`.
fn enum_change(
    key: &str,
    given: &Value,
    current: i32,
    parse: fn(&str) -> Option<i32>,
    invalid: &mut Vec<Violation>,
) -> Option<i32> {
    let expected = || match key {
        "status" => enums::status::expected(),
        _ => enums::priority::expected(),
    };
    match given.as_str().map(|s| (s, parse(s))) {
        Some((_, Some(v))) => (v != current).then_some(v),
        Some((s, None)) => {
            invalid.push(Violation::new(
                key,
                format!("unknown value {s:?}; expected one of {}", expected()),
            ));
            None
        }
        None => {
            invalid.push(Violation::new(
                key,
                format!("must be a string, got {}", kind(given)),
            ));
            None
        }
    }
}

/// What a PUT body asks for, against the stored lead.
pub struct Change {
    /// The lead with the new values, its id and the version the change is based on.
    pub lead: pb::Lead,
    /// The update mask (proto field names).
    pub paths: Vec<String>,
}

/// Reads a PUT body against the stored lead.
pub fn read_put(body: &Map<String, Value>, stored: &pb::Lead) -> Result<Change, RestError> {
    let stored_json = lead_json(stored);
    if let Some(v) = body.get("version") {
        match v.as_i64() {
            Some(n) if n == stored.version => {}
            Some(_) => {
                return Err(RestError(ApiError::new(
                    tonic::Code::Aborted,
                    "LEAD_VERSION_CONFLICT",
                    "the lead changed since this version; GET it again",
                )));
            }
            None if v.is_null() => {}
            None => {
                return Err(RestError::field(
                    "version",
                    format!("must be an integer, got {}", kind(v)),
                ));
            }
        }
    }
    let mut lead = pb::Lead {
        id: stored.id.clone(),
        version: stored.version,
        ..Default::default()
    };
    let mut paths = Vec::new();
    let mut not_writable = Vec::new();
    let mut invalid = Vec::new();
    for (key, given) in body {
        match key.as_str() {
            "version" | "outcome" => {}
            "status" => {
                if let Some(v) = enum_change(
                    key,
                    given,
                    stored.status,
                    enums::status::parse,
                    &mut invalid,
                ) {
                    lead.status = v;
                    paths.push(key.clone());
                }
            }
            "priority" => {
                if let Some(v) = enum_change(
                    key,
                    given,
                    stored.priority,
                    enums::priority::parse,
                    &mut invalid,
                ) {
                    lead.priority = v;
                    paths.push(key.clone());
                }
            }
            "assignee" | "leadComment" => {
                let value = match given {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => {
                        invalid.push(Violation::new(
                            key.clone(),
                            format!("must be a string or null, got {}", kind(other)),
                        ));
                        continue;
                    }
                };
                let (current, path) = if key == "assignee" {
                    (&stored.assignee, "assignee")
                } else {
                    (&stored.lead_comment, "lead_comment")
                };
                if value != *current {
                    if key == "assignee" {
                        lead.assignee = value;
                    } else {
                        lead.lead_comment = value;
                    }
                    paths.push(path.to_string());
                }
            }
            k if READ_ONLY.contains(&k) => {
                let current = stored_json.get(k).unwrap_or(&Value::Null);
                if !unchanged(k, given, current) {
                    not_writable.push(Violation::new(
                        k,
                        format!("is read-only; writable fields are {}", WRITABLE.join(", ")),
                    ));
                }
            }
            k => not_writable.push(Violation::new(k, "is not a field of a lead")),
        }
    }
    if !not_writable.is_empty() {
        not_writable.extend(invalid);
        let first = not_writable[0].clone();
        return Err(RestError::invalid(
            "FIELD_NOT_WRITABLE",
            format!("{}: {}", first.field, first.description),
            not_writable,
        ));
    }
    crate::body::check(invalid)?;
    Ok(Change { lead, paths })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored() -> pb::Lead {
        pb::Lead {
            id: "id1".into(),
            lead_uid: "L-2026-000001".into(),
            status: 1,
            priority: 2,
            score: 40,
            form_data: lms_platform::json::to_struct_opt(&json!({"visits": 3})),
            version: 4,
            create_time: Some(prost_types::Timestamp {
                seconds: 1_767_225_600,
                nanos: 5_000,
            }),
            ..Default::default()
        }
    }

    fn put(body: Value) -> Result<Change, RestError> {
        read_put(body.as_object().unwrap_or(&Map::new()), &stored())
    }

    #[test]
    fn what_was_got_can_be_put_back_with_one_change() {
        let mut body = lead_json(&stored());
        body["status"] = json!("IN_PROGRESS");
        body["formData"] = json!({"visits": 3.0});
        body["createdAt"] = json!("2026-01-01T02:00:00.000005+02:00");
        body["outcome"] = json!("CREATED");
        let c = put(body).map_err(|e| e.0).unwrap();
        assert_eq!(c.paths, vec!["status"]);
        assert_eq!(
            (c.lead.status, c.lead.version, c.lead.id.as_str()),
            (2, 4, "id1")
        );
    }

    #[test]
    fn changed_read_only_and_unknown_fields_are_named() {
        let err = put(
            json!({"score": 99, "leadUid": "L-2026-000001", "colour": "red", "priority": "NOPE"}),
        )
        .err()
        .map(|e| e.0)
        .unwrap();
        assert_eq!(err.reason, "FIELD_NOT_WRITABLE");
        let fields: Vec<&str> = err.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, vec!["colour", "score", "priority"]);
    }

    #[test]
    fn stale_version_conflicts_and_nulls_clear() {
        let err = put(json!({"version": 3, "status": "QUALIFIED"}))
            .err()
            .map(|e| e.0)
            .unwrap();
        assert_eq!(
            (err.reason.as_str(), err.http_status()),
            ("LEAD_VERSION_CONFLICT", 409)
        );
        let c = put(json!({"version": 4, "assignee": "u9", "leadComment": null}))
            .map_err(|e| e.0)
            .unwrap();
        assert_eq!(c.paths, vec!["assignee"]);
        let none = put(json!({"status": "NEW", "priority": "MEDIUM"}))
            .map_err(|e| e.0)
            .unwrap();
        assert!(none.paths.is_empty());
    }
}
