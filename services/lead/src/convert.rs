//! Proto <-> domain conversions. Proto types stop here: enum numbers are checked (an
//! unknown number is INVALID_ARGUMENT naming the field), `Struct`s become JSON maps, and a
//! config service `Product` becomes a compiled [`ProductVersion`].

use crate::domain::form::FormSpec;
use crate::domain::lead::{priority_code, priority_from_code};
use crate::domain::product::{DuplicatePolicy, ProductVersion};
use crate::domain::{Channel, FieldChange, Lead, LeadStatus, Priority, SubmitOutcome};
use crate::error::LeadError;
use crate::store::EventRow;
use chrono::{DateTime, Utc};
use lms_platform::json::{from_struct, to_struct};
use lms_proto::config::v1 as cfg;
use lms_proto::lead::v1 as pb;
use std::collections::{HashMap, HashSet};

/// A proto timestamp of an instant.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

/// The instant of a proto timestamp (INVALID_ARGUMENT naming `field` when out of range).
pub fn instant(t: &prost_types::Timestamp, field: &str) -> Result<DateTime<Utc>, LeadError> {
    u32::try_from(t.nanos)
        .ok()
        .and_then(|n| DateTime::from_timestamp(t.seconds, n))
        .ok_or_else(|| LeadError::field(field, "is not a valid timestamp"))
}

/// A status from its proto number; `None` for UNSPECIFIED, an error for unknown numbers.
pub fn status(v: i32, field: &str) -> Result<Option<LeadStatus>, LeadError> {
    match v {
        0 => Ok(None),
        n => LeadStatus::from_code(i64::from(n))
            .map(Some)
            .ok_or_else(|| LeadError::field(field, format!("unknown status {n}"))),
    }
}

/// A priority from its proto number; `None` for UNSPECIFIED, an error for unknown numbers.
pub fn priority(v: i32, field: &str) -> Result<Option<Priority>, LeadError> {
    match v {
        0 => Ok(None),
        n => priority_from_code(i64::from(n))
            .map(Some)
            .ok_or_else(|| LeadError::field(field, format!("unknown priority {n}"))),
    }
}

/// A channel from its proto number; `None` for UNSPECIFIED, an error for unknown numbers.
pub fn channel(v: i32, field: &str) -> Result<Option<Channel>, LeadError> {
    match v {
        0 => Ok(None),
        n => Channel::from_code(i64::from(n))
            .map(Some)
            .ok_or_else(|| LeadError::field(field, format!("unknown lead channel {n}"))),
    }
}

fn code_i32(c: i64) -> i32 {
    i32::try_from(c).unwrap_or_default()
}

/// The proto lead.
pub fn lead(l: &Lead) -> pb::Lead {
    pb::Lead {
        id: l.id.clone(),
        lead_uid: l.lead_uid.clone(),
        product_code: l.product_code.clone(),
        status: code_i32(l.status.code()),
        priority: code_i32(priority_code(l.priority)),
        score: l.score,
        assignee: l.assignee.clone(),
        form_data: Some(to_struct(&l.form_data)),
        config_hash: l.config_hash.clone(),
        scoring_version: l.scoring_version,
        lead_channel: code_i32(l.lead_channel.code()),
        lead_comment: l.lead_comment.clone(),
        document_metadata: l.document_metadata.as_ref().map(to_struct),
        score_breakdown: Some(pb::ScoreBreakdown {
            items: l
                .score_breakdown
                .items
                .iter()
                .map(|i| pb::ScoreItem {
                    rule_id: i.rule_id.clone(),
                    field: i.field.clone(),
                    points: i.points,
                    reason: i.reason.clone(),
                })
                .collect(),
            raw_score: l.score_breakdown.raw_score,
        }),
        version: l.version,
        create_time: Some(timestamp(l.create_time)),
        update_time: Some(timestamp(l.update_time)),
    }
}

/// The proto outcome.
pub fn outcome(o: SubmitOutcome) -> pb::SubmissionOutcome {
    match o {
        SubmitOutcome::Created => pb::SubmissionOutcome::Created,
        SubmitOutcome::Merged => pb::SubmissionOutcome::Merged,
        SubmitOutcome::DuplicateSuppressed => pb::SubmissionOutcome::DuplicateSuppressed,
    }
}

/// Proto field changes.
pub fn changes(c: &[FieldChange]) -> Vec<pb::FieldChange> {
    c.iter()
        .map(|c| pb::FieldChange {
            field: c.field.clone(),
            old_value: c.old_value.clone(),
            new_value: c.new_value.clone(),
        })
        .collect()
}

/// A history entry.
pub fn history_entry(e: &EventRow) -> pb::LeadHistoryEntry {
    pb::LeadHistoryEntry {
        event_id: e.event_id.clone(),
        event_type: e.event_type.clone(),
        actor: e.actor.clone(),
        changes: changes(&e.changes),
        create_time: Some(timestamp(e.created_at)),
        lead_version: e.lead_version,
    }
}

/// A streamed event.
pub fn event(e: &EventRow) -> pb::LeadEvent {
    pb::LeadEvent {
        event_id: e.event_id.clone(),
        position: e.position.unwrap_or_default(),
        event_type: e.event_type.clone(),
        lead_id: e.lead_id.clone(),
        lead: e.lead.as_ref().map(lead),
        changes: changes(&e.changes),
        actor: e.actor.clone(),
        create_time: Some(timestamp(e.created_at)),
    }
}

/// Compiles a config service product version. Errors describe a configuration the config
/// service should not have accepted.
pub fn product_version(p: &cfg::Product) -> Result<ProductVersion, String> {
    let schema =
        serde_json::Value::Object(p.form_schema.as_ref().map(from_struct).unwrap_or_default());
    let dictionaries: HashMap<String, HashSet<String>> = p
        .dictionaries
        .iter()
        .map(|(name, d)| {
            (
                name.clone(),
                d.entries.iter().map(|e| e.value.clone()).collect(),
            )
        })
        .collect();
    let form = FormSpec::compile(&schema, dictionaries)?;
    let rules =
        lms_scoring::from_proto(&p.scoring_rules.clone().unwrap_or_default(), "scoringRules")
            .and_then(|r| r.compile())
            .map_err(|v| {
                v.iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
    let settings = p.settings.clone().unwrap_or_default();
    let captcha_none = matches!(
        cfg::CaptchaMode::try_from(settings.captcha_mode),
        Ok(cfg::CaptchaMode::Unspecified | cfg::CaptchaMode::None)
    );
    let duplicate_policy = match cfg::DuplicatePolicy::try_from(settings.duplicate_policy) {
        Ok(cfg::DuplicatePolicy::Merge) => DuplicatePolicy::Merge,
        Ok(cfg::DuplicatePolicy::Suppress) => DuplicatePolicy::Suppress,
        _ => DuplicatePolicy::Allow,
    };
    Ok(ProductVersion {
        product_code: p.product_code.clone(),
        version: p.version,
        config_hash: p.config_hash.clone(),
        form,
        rules,
        captcha_none,
        allowed_origins: settings.allowed_origins.clone(),
        duplicate_policy,
        duplicate_key_fields: settings.duplicate_key_fields,
        duplicate_window_hours: match settings.duplicate_window_hours {
            h if h > 0 => i64::from(h),
            _ => 24,
        },
    })
}
