//! The rules of changing a lead: which fields are writable, the terminal statuses, what an
//! agent may do, and which events a change writes.

use super::lead::{Caller, EventType, FieldChange, Lead, LeadStatus, Priority};
use chrono::{DateTime, Utc};
use lms_platform::error::Violation;

/// Longest lead comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 4_000;
/// Longest assignee id.
pub const MAX_ASSIGNEE_CHARS: usize = 128;

/// The writable fields, by their REST (camelCase) and proto (snake_case) names.
pub const WRITABLE: &[(&str, Field)] = &[
    ("status", Field::Status),
    ("priority", Field::Priority),
    ("assignee", Field::Assignee),
    ("leadComment", Field::LeadComment),
    ("lead_comment", Field::LeadComment),
];

/// A writable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Workflow status.
    Status,
    /// Priority.
    Priority,
    /// Assignee.
    Assignee,
    /// Comment.
    LeadComment,
}

/// The writable field of an update-mask path, if it is one.
pub fn writable(path: &str) -> Option<Field> {
    WRITABLE.iter().find(|(p, _)| *p == path).map(|(_, f)| *f)
}

/// New values; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// New status.
    pub status: Option<LeadStatus>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New assignee; empty unassigns.
    pub assignee: Option<String>,
    /// New comment.
    pub lead_comment: Option<String>,
}

impl Changes {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Length checks of the values (paths under `prefix`, e.g. `lead.` or `updates.`).
    pub fn violations(&self, prefix: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        if let Some(c) = &self.lead_comment
            && c.chars().count() > MAX_COMMENT_CHARS
        {
            out.push(Violation::new(
                format!("{prefix}leadComment"),
                format!("must be at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
        if let Some(a) = &self.assignee
            && (a.chars().count() > MAX_ASSIGNEE_CHARS || a.chars().any(char::is_control))
        {
            out.push(Violation::new(
                format!("{prefix}assignee"),
                "is not a user id",
            ));
        }
        out
    }
}

/// Why a change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Moving out of CLOSED_WON/CLOSED_LOST without being ADMIN.
    TerminalStatus,
    /// An agent giving a lead to someone else (or unassigning it).
    AssignmentNotAllowed,
}

/// Applies `changes` to `lead` for `caller` at `now`: the new lead and the field changes
/// (empty, and the lead unchanged, when every value is already the stored one).
pub fn apply(
    lead: &Lead,
    changes: &Changes,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<(Lead, Vec<FieldChange>), Denied> {
    let mut next = lead.clone();
    let mut diff = Vec::new();
    if let Some(s) = changes.status.filter(|s| *s != lead.status) {
        if lead.status.is_terminal() && !caller.is_admin() {
            return Err(Denied::TerminalStatus);
        }
        diff.push(FieldChange::new("status", lead.status.as_str(), s.as_str()));
        next.status = s;
    }
    if let Some(p) = changes.priority.filter(|p| *p != lead.priority) {
        diff.push(FieldChange::new(
            "priority",
            lead.priority.as_str(),
            p.as_str(),
        ));
        next.priority = p;
    }
    if let Some(a) = changes.assignee.as_ref().filter(|a| **a != lead.assignee) {
        if caller.only_assignee().is_some() {
            return Err(Denied::AssignmentNotAllowed);
        }
        diff.push(FieldChange::new(
            "assignee",
            lead.assignee.clone(),
            a.clone(),
        ));
        next.assignee = a.clone();
    }
    if let Some(c) = changes
        .lead_comment
        .as_ref()
        .filter(|c| **c != lead.lead_comment)
    {
        diff.push(FieldChange::new(
            "leadComment",
            lead.lead_comment.clone(),
            c.clone(),
        ));
        next.lead_comment = c.clone();
    }
    if !diff.is_empty() {
        next.version += 1;
        next.update_time = now;
    }
    Ok((next, diff))
}

/// The events of a change: `LeadUpdated` with every field, plus `LeadStatusChanged` and
/// `LeadAssigned` when those fields changed.
pub fn events_of(diff: &[FieldChange]) -> Vec<(EventType, Vec<FieldChange>)> {
    if diff.is_empty() {
        return Vec::new();
    }
    let mut out = vec![(EventType::LeadUpdated, diff.to_vec())];
    for (field, ty) in [
        ("status", EventType::LeadStatusChanged),
        ("assignee", EventType::LeadAssigned),
    ] {
        if let Some(c) = diff.iter().find(|c| c.field == field) {
            out.push((ty, vec![c.clone()]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead::{Channel, ScoreBreakdown};

    fn lead(status: LeadStatus) -> Lead {
        Lead {
            id: "l1".into(),
            lead_uid: "L-2026-000001".into(),
            product_code: "P".into(),
            status,
            priority: Priority::Low,
            score: 0,
            assignee: "agent-1".into(),
            form_data: Default::default(),
            config_hash: "h".into(),
            scoring_version: 1,
            lead_channel: Channel::Form,
            lead_comment: String::new(),
            document_metadata: None,
            score_breakdown: ScoreBreakdown::default(),
            version: 3,
            create_time: Utc::now(),
            update_time: Utc::now(),
        }
    }

    fn user(id: &str, admin: bool, sees_all: bool) -> Caller {
        Caller::User {
            id: id.into(),
            admin,
            sees_all,
        }
    }

    #[test]
    fn terminal_statuses_need_an_admin_to_reopen() {
        let closed = lead(LeadStatus::ClosedWon);
        let to_new = Changes {
            status: Some(LeadStatus::New),
            ..Default::default()
        };
        let manager = user("m", false, true);
        assert_eq!(
            apply(&closed, &to_new, &manager, Utc::now()).err(),
            Some(Denied::TerminalStatus)
        );
        let (next, diff) = apply(&closed, &to_new, &user("a", true, true), Utc::now())
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((next.status, next.version), (LeadStatus::New, 4));
        assert_eq!(diff, vec![FieldChange::new("status", "CLOSED_WON", "NEW")]);
        // Same status is no change, even on a closed lead.
        let same = Changes {
            status: Some(LeadStatus::ClosedWon),
            ..Default::default()
        };
        let (n, d) =
            apply(&closed, &same, &manager, Utc::now()).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(d.is_empty());
        assert_eq!(n.version, 3);
    }

    #[test]
    fn agents_cannot_reassign_and_events_follow_the_diff() {
        let l = lead(LeadStatus::New);
        let agent = user("agent-1", false, false);
        let give = Changes {
            assignee: Some("agent-2".into()),
            ..Default::default()
        };
        assert_eq!(
            apply(&l, &give, &agent, Utc::now()).err(),
            Some(Denied::AssignmentNotAllowed)
        );
        let both = Changes {
            status: Some(LeadStatus::InProgress),
            assignee: Some("agent-2".into()),
            lead_comment: Some("call back".into()),
            ..Default::default()
        };
        let (_, diff) = apply(&l, &both, &user("m", false, true), Utc::now())
            .unwrap_or_else(|e| panic!("{e:?}"));
        let types: Vec<&str> = events_of(&diff).iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            types,
            vec!["LeadUpdated", "LeadStatusChanged", "LeadAssigned"]
        );
        assert_eq!(events_of(&diff)[0].1.len(), 3);
    }

    #[test]
    fn only_four_fields_are_writable() {
        assert_eq!(writable("leadComment"), Some(Field::LeadComment));
        assert_eq!(writable("lead_comment"), Some(Field::LeadComment));
        assert_eq!(writable("score"), None);
        let long = Changes {
            lead_comment: Some("x".repeat(4_001)),
            ..Default::default()
        };
        assert_eq!(long.violations("lead.")[0].field, "lead.leadComment");
    }
}
