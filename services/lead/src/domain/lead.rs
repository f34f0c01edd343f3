//! The lead, its enums (stored as their proto numbers, so sorting by the number is sorting
//! by workflow order or urgency), its events and the caller's visibility.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A lead's priority (shared with the scoring contract).
pub use lms_scoring::Priority;

/// Where a lead is in the sales workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeadStatus {
    /// Submitted, not yet worked.
    New,
    /// Being worked.
    InProgress,
    /// A real opportunity.
    Qualified,
    /// Not an opportunity.
    Unqualified,
    /// Became a customer (terminal).
    ClosedWon,
    /// Lost (terminal).
    ClosedLost,
}

impl LeadStatus {
    /// Every status, in workflow order.
    pub const ALL: [LeadStatus; 6] = [
        Self::New,
        Self::InProgress,
        Self::Qualified,
        Self::Unqualified,
        Self::ClosedWon,
        Self::ClosedLost,
    ];

    /// The stored code (the proto enum number).
    pub fn code(self) -> i64 {
        match self {
            Self::New => 1,
            Self::InProgress => 2,
            Self::Qualified => 3,
            Self::Unqualified => 4,
            Self::ClosedWon => 5,
            Self::ClosedLost => 6,
        }
    }

    /// The status of a stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The REST name, e.g. `CLOSED_WON`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::InProgress => "IN_PROGRESS",
            Self::Qualified => "QUALIFIED",
            Self::Unqualified => "UNQUALIFIED",
            Self::ClosedWon => "CLOSED_WON",
            Self::ClosedLost => "CLOSED_LOST",
        }
    }

    /// True for CLOSED_WON and CLOSED_LOST: only an ADMIN may move a lead out of them.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::ClosedWon | Self::ClosedLost)
    }
}

/// The stored code of a priority (the proto enum number).
pub fn priority_code(p: Priority) -> i64 {
    match p {
        Priority::Low => 1,
        Priority::Medium => 2,
        Priority::High => 3,
        Priority::Urgent => 4,
    }
}

/// The priority of a stored code.
pub fn priority_from_code(code: i64) -> Option<Priority> {
    Priority::ALL
        .into_iter()
        .find(|p| priority_code(*p) == code)
}

/// How a lead arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// An embedded web form.
    Form,
    /// A chatbot.
    Chatbot,
    /// A Facebook lead ad.
    Facebook,
    /// WhatsApp.
    Whatsapp,
    /// Telegram.
    Telegram,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 5] = [
        Self::Form,
        Self::Chatbot,
        Self::Facebook,
        Self::Whatsapp,
        Self::Telegram,
    ];

    /// The stored code (the proto enum number).
    pub fn code(self) -> i64 {
        match self {
            Self::Form => 1,
            Self::Chatbot => 2,
            Self::Facebook => 3,
            Self::Whatsapp => 4,
            Self::Telegram => 5,
        }
    }

    /// The channel of a stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// One matched scoring rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreItem {
    /// The rule's id.
    pub rule_id: String,
    /// The form field it looked at.
    pub field: String,
    /// Points it gave.
    pub points: i32,
    /// The rule's reason.
    pub reason: String,
}

/// How a score came about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreBreakdown {
    /// Matched rules, in rule order.
    pub items: Vec<ScoreItem>,
    /// Sum of points before clamping.
    pub raw_score: i32,
}

impl From<&lms_scoring::Outcome> for ScoreBreakdown {
    fn from(o: &lms_scoring::Outcome) -> Self {
        Self {
            items: o
                .matched
                .iter()
                .map(|m| ScoreItem {
                    rule_id: m.rule_id.clone(),
                    field: m.field.clone(),
                    points: m.points,
                    reason: m.reason.clone(),
                })
                .collect(),
            raw_score: o.raw_score,
        }
    }
}

/// A lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lead {
    /// Server-assigned id (UUID v7, so ids sort roughly by creation).
    pub id: String,
    /// `L-<year>-<6+ digits>`.
    pub lead_uid: String,
    /// The product.
    pub product_code: String,
    /// Workflow status.
    pub status: LeadStatus,
    /// Priority.
    pub priority: Priority,
    /// Score, 0..=100.
    pub score: i32,
    /// Assigned user id, empty when unassigned.
    pub assignee: String,
    /// The normalised answers.
    pub form_data: Map<String, Value>,
    /// Hash of the configuration version the form was rendered from.
    pub config_hash: String,
    /// The configuration version whose rules gave the score.
    pub scoring_version: i32,
    /// Channel.
    pub lead_channel: Channel,
    /// Sales team's comment.
    pub lead_comment: String,
    /// Metadata of attached documents.
    pub document_metadata: Option<Map<String, Value>>,
    /// Which rules gave the score.
    pub score_breakdown: ScoreBreakdown,
    /// Revision, from 1.
    pub version: i64,
    /// Submission time.
    pub create_time: DateTime<Utc>,
    /// Last change.
    pub update_time: DateTime<Utc>,
}

/// The human-friendly id of the `n`th lead, created in `at`'s year: `L-2026-000123`.
pub fn lead_uid(at: DateTime<Utc>, n: i64) -> String {
    format!("L-{}-{:06}", at.year(), n)
}

/// Types of lead events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A lead was submitted.
    LeadCreated,
    /// Fields of a lead changed (every change).
    LeadUpdated,
    /// The status changed (besides LeadUpdated).
    LeadStatusChanged,
    /// The assignee changed (besides LeadUpdated).
    LeadAssigned,
}

impl EventType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeadCreated => "LeadCreated",
            Self::LeadUpdated => "LeadUpdated",
            Self::LeadStatusChanged => "LeadStatusChanged",
            Self::LeadAssigned => "LeadAssigned",
        }
    }
}

/// One changed field, values as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// Field name (`status`, `priority`, `assignee`, `leadComment`, `formData.x`, ...).
    pub field: String,
    /// Value before.
    pub old_value: String,
    /// Value after.
    pub new_value: String,
}

impl FieldChange {
    /// Creates a change.
    pub fn new(field: &str, old: impl Into<String>, new: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            old_value: old.into(),
            new_value: new.into(),
        }
    }
}

/// What a submission did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubmitOutcome {
    /// A new lead was stored.
    Created,
    /// Merged into an existing lead.
    Merged,
    /// A duplicate, not stored; the existing lead is returned.
    DuplicateSuppressed,
}

/// A submission's answer, as stored for idempotent replays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    /// The lead.
    pub lead: Lead,
    /// What happened.
    pub outcome: SubmitOutcome,
}

/// Who is asking, as far as lead visibility goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The public (submission only).
    Public,
    /// Another service of the mesh: sees everything, acts as no user.
    Service,
    /// A signed-in user.
    User {
        /// User id.
        id: String,
        /// ADMIN (may reopen closed leads).
        admin: bool,
        /// ADMIN or MANAGER: sees every lead. Otherwise (AGENT) only leads assigned to
        /// them.
        sees_all: bool,
    },
}

impl Caller {
    /// The assignee a query must be restricted to, when the caller sees only their own.
    pub fn only_assignee(&self) -> Option<&str> {
        match self {
            Self::User {
                id,
                sees_all: false,
                ..
            } => Some(id),
            _ => None,
        }
    }

    /// True when the caller may see this lead.
    pub fn sees(&self, lead: &Lead) -> bool {
        match self {
            Self::Public => false,
            Self::Service => true,
            Self::User { .. } => self.only_assignee().is_none_or(|me| lead.assignee == me),
        }
    }

    /// The actor recorded in events: the user id, empty otherwise.
    pub fn actor(&self) -> &str {
        match self {
            Self::User { id, .. } => id,
            _ => "",
        }
    }

    /// True for an ADMIN user.
    pub fn is_admin(&self) -> bool {
        matches!(self, Self::User { admin: true, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_uid_pads_to_six_digits_and_grows() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(lead_uid(t, 123), "L-2026-000123");
        assert_eq!(lead_uid(t, 1_234_567), "L-2026-1234567");
    }

    #[test]
    fn codes_round_trip_and_follow_workflow_order() {
        for s in LeadStatus::ALL {
            assert_eq!(LeadStatus::from_code(s.code()), Some(s));
        }
        for p in Priority::ALL {
            assert_eq!(priority_from_code(priority_code(p)), Some(p));
        }
        assert!(priority_code(Priority::Low) < priority_code(Priority::Urgent));
        assert_eq!(LeadStatus::from_code(7), None);
        assert_eq!(Channel::from_code(0), None);
    }

    #[test]
    fn agents_see_only_their_own_leads() {
        let agent = Caller::User {
            id: "u1".into(),
            admin: false,
            sees_all: false,
        };
        assert_eq!(agent.only_assignee(), Some("u1"));
        let manager = Caller::User {
            id: "m".into(),
            admin: false,
            sees_all: true,
        };
        assert_eq!(manager.only_assignee(), None);
        assert_eq!(Caller::Service.only_assignee(), None);
    }
}
