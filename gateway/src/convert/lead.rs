//! lead shapes: the Lead JSON (the seed's fields, with `formData` where the seed says
//! `formSchema`), submissions, list filters, bulk updates and history.

use super::{enums, time};
use crate::body::Fields;
use lms_platform::json as pjson;
use lms_proto::lead::v1 as pb;
use serde_json::{Value, json};

fn opt_str(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::from(s)
    }
}

/// The Lead JSON: `{id, leadUid, productCode, status, priority, score, assignee, formData,
/// configHash, scoringVersion, createdAt, updatedAt, leadChannel, leadComment,
/// documentMetadata, scoreBreakdown: {items: [{ruleId, field, points, reason}], rawScore},
/// version}`. An unassigned lead has `assignee: null`; no comment is `leadComment: null`.
pub fn lead_json(l: &pb::Lead) -> Value {
    let breakdown = l.score_breakdown.clone().unwrap_or_default();
    json!({
        "id": l.id,
        "leadUid": l.lead_uid,
        "productCode": l.product_code,
        "status": enums::status::json(l.status),
        "priority": enums::priority::json(l.priority),
        "score": l.score,
        "assignee": opt_str(&l.assignee),
        "formData": l.form_data.as_ref().map_or_else(|| json!({}), |s| Value::Object(pjson::from_struct(s))),
        "configHash": l.config_hash,
        "scoringVersion": l.scoring_version,
        "createdAt": time::json(l.create_time.as_ref()),
        "updatedAt": time::json(l.update_time.as_ref()),
        "leadChannel": enums::channel::json(l.lead_channel),
        "leadComment": opt_str(&l.lead_comment),
        "documentMetadata": pjson::from_struct_opt(l.document_metadata.as_ref()),
        "scoreBreakdown": {
            "items": breakdown.items.iter().map(|i| json!({
                "ruleId": i.rule_id, "field": i.field, "points": i.points, "reason": i.reason,
            })).collect::<Vec<_>>(),
            "rawScore": breakdown.raw_score,
        },
        "version": l.version,
    })
}

/// The submit answer: the lead plus `outcome` (`CREATED`, `MERGED`,
/// `DUPLICATE_SUPPRESSED`, `QUARANTINED`).
pub fn submit_json(r: &pb::SubmitLeadResponse) -> Value {
    let mut v = r.lead.as_ref().map(lead_json).unwrap_or_else(|| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("outcome".into(), enums::outcome::json(r.outcome));
    }
    v
}

/// The submit body: `{productCode, formData, configHash, signature, captchaResponse?,
/// leadChannel?}`; `captchaResponse` is `{token, provider?}` or a bare token string.
pub fn submit_request(f: &mut Fields, idempotency_key: String) -> pb::SubmitLeadRequest {
    let captcha_response = match f.value("captchaResponse") {
        None => None,
        Some(Value::String(token)) => Some(pb::CaptchaResponse {
            token,
            provider: String::new(),
        }),
        Some(Value::Object(m)) => {
            let mut c = Fields::new(m, &f.path("captchaResponse"));
            let out = pb::CaptchaResponse {
                token: c.string("token").unwrap_or_default(),
                provider: c.string("provider").unwrap_or_default(),
            };
            f.absorb(c);
            Some(out)
        }
        Some(other) => {
            let path = f.path("captchaResponse");
            f.fail(
                path,
                format!(
                    "must be an object {{token, provider}} or a string, got {}",
                    crate::body::kind(&other)
                ),
            );
            None
        }
    };
    pb::SubmitLeadRequest {
        product_code: f.string("productCode").unwrap_or_default(),
        form_data: f.object("formData").map(|m| pjson::to_struct(&m)),
        config_hash: f.string("configHash").unwrap_or_default(),
        signature: f.string("signature").unwrap_or_default(),
        captcha_response,
        lead_channel: f
            .enumeration(
                "leadChannel",
                enums::channel::parse,
                &enums::channel::expected(),
            )
            .unwrap_or(lms_proto::common::v1::LeadChannel::Form as i32),
        idempotency_key,
    }
}

/// The bulk-update body: `{leadIds, updates: {status?, priority?, assignee?, leadComment?}}`.
/// `null` clears `assignee` and `leadComment`; any other key of `updates` is a 400.
pub fn bulk_request(f: &mut Fields) -> pb::BulkUpdateLeadsRequest {
    let lead_ids = f.strings("leadIds").unwrap_or_default();
    let updates = f.object("updates").map(|m| {
        let mut u = Fields::new(m, &f.path("updates"));
        let changes = changes(&mut u);
        f.absorb(u);
        changes
    });
    if !f.has("updates") {
        let path = f.path("updates");
        f.fail(path, "is required");
    }
    pb::BulkUpdateLeadsRequest { lead_ids, updates }
}

fn changes(u: &mut Fields) -> pb::LeadChanges {
    let clearable = |u: &mut Fields, key: &str| -> Option<String> {
        if u.get(key).is_some_and(Value::is_null) {
            let _ = u.value(key);
            return Some(String::new());
        }
        u.string(key)
    };
    pb::LeadChanges {
        status: u
            .enumeration("status", enums::status::parse, &enums::status::expected())
            .unwrap_or_default(),
        priority: u
            .enumeration(
                "priority",
                enums::priority::parse,
                &enums::priority::expected(),
            )
            .unwrap_or_default(),
        assignee: clearable(u, "assignee"),
        lead_comment: clearable(u, "leadComment"),
    }
}

/// The bulk-update answer: `{totalRequested, totalUpdated, totalFailed, updatedLeadIds,
/// failedLeadIds, errors: [{leadId, reason, message}]}`.
pub fn bulk_json(r: &pb::BulkUpdateLeadsResponse) -> Value {
    json!({
        "totalRequested": r.total_requested,
        "totalUpdated": r.total_updated,
        "totalFailed": r.total_failed,
        "updatedLeadIds": r.updated_lead_ids,
        "failedLeadIds": r.failed_lead_ids,
        "errors": r.errors.iter().map(|e| json!({
            "leadId": e.lead_id, "reason": e.reason, "message": e.message,
        })).collect::<Vec<_>>(),
    })
}

/// One history entry: `{eventId, eventType, actor, changes: [{field, oldValue, newValue}],
/// createdAt, leadVersion}`; `actor` is `null` for the public submission.
pub fn history_json(e: &pb::LeadHistoryEntry) -> Value {
    json!({
        "eventId": e.event_id,
        "eventType": e.event_type,
        "actor": opt_str(&e.actor),
        "changes": e.changes.iter().map(|c| json!({
            "field": c.field, "oldValue": c.old_value, "newValue": c.new_value,
        })).collect::<Vec<_>>(),
        "createdAt": time::json(e.create_time.as_ref()),
        "leadVersion": e.lead_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Value) -> Fields {
        Fields::new(v.as_object().cloned().unwrap_or_default(), "")
    }

    #[test]
    fn lead_shape_has_every_seed_field_and_form_data() {
        let l = pb::Lead {
            id: "id1".into(),
            lead_uid: "L-2026-000001".into(),
            status: 1,
            priority: 3,
            lead_channel: 1,
            form_data: pjson::to_struct_opt(&json!({"city": "Pune", "visits": 3})),
            score_breakdown: Some(pb::ScoreBreakdown {
                items: vec![pb::ScoreItem {
                    rule_id: "r1".into(),
                    field: "city".into(),
                    points: 20,
                    reason: "home".into(),
                }],
                raw_score: 20,
            }),
            version: 1,
            ..Default::default()
        };
        let j = lead_json(&l);
        assert_eq!(j["status"], "NEW");
        assert_eq!(j["priority"], "HIGH");
        assert_eq!(j["leadChannel"], "FORM");
        assert_eq!(j["assignee"], Value::Null);
        assert_eq!(j["documentMetadata"], Value::Null);
        assert_eq!(j["formData"], json!({"city": "Pune", "visits": 3}));
        assert_eq!(j["scoreBreakdown"]["items"][0]["ruleId"], "r1");
        assert!(j.get("formSchema").is_none());
        assert_eq!(j.as_object().map(|o| o.len()), Some(17));
    }

    #[test]
    fn submit_defaults_to_form_and_names_a_bad_channel() {
        let mut f = fields(
            json!({"productCode": "P", "formData": {}, "configHash": "h", "signature": "s"}),
        );
        let r = submit_request(&mut f, "k1".into());
        assert!(f.into_violations().is_empty());
        assert_eq!(r.lead_channel, 1);
        assert_eq!(r.idempotency_key, "k1");
        let mut f = fields(json!({"leadChannel": "PIGEON", "formData": "x"}));
        let _ = submit_request(&mut f, String::new());
        let v: Vec<String> = f.into_violations().into_iter().map(|v| v.field).collect();
        assert_eq!(v, vec!["formData", "leadChannel"]);
    }

    #[test]
    fn bulk_updates_refuse_unknown_keys_and_clear_with_null() {
        let mut f = fields(json!({"leadIds": ["a"], "updates": {"assignee": null, "score": 5}}));
        let r = bulk_request(&mut f);
        let v: Vec<String> = f.into_violations().into_iter().map(|v| v.field).collect();
        assert_eq!(v, vec!["updates.score"]);
        assert_eq!(r.updates.and_then(|u| u.assignee), Some(String::new()));
    }
}
