//! Changing leads: one lead (optimistic `version`), or the same change to up to 500 leads
//! in one transaction with per-id errors. Each change writes its events in the same
//! transaction and pokes the sequencer after commit.

use super::LeadService;
use crate::domain::update::{Changes, Denied, apply, events_of};
use crate::domain::{Caller, Lead};
use crate::error::LeadError;
use crate::store::NewEvent;
use std::collections::HashSet;

/// Most ids in one bulk update.
pub const MAX_BULK: usize = 500;

/// One id of a bulk update that was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkFailure {
    /// The id as given.
    pub lead_id: String,
    /// Stable reason.
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

/// What a bulk update did.
#[derive(Debug, Clone, Default)]
pub struct BulkResult {
    /// Ids requested.
    pub requested: usize,
    /// Ids applied (including those already holding the values).
    pub updated: Vec<String>,
    /// Ids not applied.
    pub failed: Vec<BulkFailure>,
}

fn denied(d: Denied) -> LeadError {
    match d {
        Denied::TerminalStatus => LeadError::InvalidStatusTransition,
        Denied::AssignmentNotAllowed => LeadError::AssignmentNotAllowed,
    }
}

impl LeadService {
    /// Checks a new assignee with uam (agents cannot reassign, so their request is refused
    /// later without a call).
    async fn check_assignee(
        &self,
        caller: &Caller,
        changes: &Changes,
        field: &str,
    ) -> Result<(), LeadError> {
        match &changes.assignee {
            Some(a) if !a.is_empty() && caller.only_assignee().is_none() => {
                if self.peers.user_enabled(a).await? {
                    Ok(())
                } else {
                    Err(LeadError::AssigneeUnknown {
                        field: field.to_string(),
                    })
                }
            }
            _ => Ok(()),
        }
    }

    /// Changes one visible lead; `expected_version` 0 skips the optimistic check.
    #[tracing::instrument(skip_all)]
    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        changes: Changes,
    ) -> Result<Lead, LeadError> {
        let v = changes.violations("");
        if !v.is_empty() {
            return Err(LeadError::Invalid {
                reason: "INVALID_ARGUMENT",
                violations: v,
            });
        }
        if id.is_empty() || id.len() > 64 {
            return Err(LeadError::NotFound);
        }
        self.check_assignee(caller, &changes, "assignee").await?;
        let mut tx = self.store.begin().await?;
        let lead = self
            .store
            .lock_leads(&mut tx, &[id.to_string()])
            .await?
            .into_iter()
            .find(|l| caller.sees(l));
        let Some(lead) = lead else {
            tx.rollback().await?;
            return Err(LeadError::NotFound);
        };
        if expected_version != 0 && expected_version != lead.version {
            tx.rollback().await?;
            return Err(LeadError::VersionConflict);
        }
        let now = self.now();
        let (next, diff) = match apply(&lead, &changes, caller, now) {
            Ok(x) => x,
            Err(d) => {
                tx.rollback().await?;
                return Err(denied(d));
            }
        };
        if diff.is_empty() {
            tx.rollback().await?;
            return Ok(lead);
        }
        let events = events_of(&diff)
            .into_iter()
            .map(|(ty, c)| NewEvent::of(&next, ty, &c, caller.actor(), now))
            .collect::<Result<Vec<_>, _>>()?;
        self.store
            .commit_changes(tx, vec![(lead.version, next.clone())], events)
            .await?;
        self.hub.poke();
        Ok(next)
    }

    /// Applies `changes` to every visible lead of `ids` that allows it, in one
    /// transaction; the others are reported per id and left untouched.
    #[tracing::instrument(skip_all, fields(count = ids.len()))]
    pub async fn bulk_update(
        &self,
        caller: &Caller,
        ids: Vec<String>,
        changes: Changes,
    ) -> Result<BulkResult, LeadError> {
        let mut v = Vec::new();
        if ids.is_empty() || ids.len() > MAX_BULK {
            v.push(lms_platform::Violation::new(
                "leadIds",
                format!("must hold 1 to {MAX_BULK} ids, not {}", ids.len()),
            ));
        } else {
            let mut seen = HashSet::new();
            for (i, id) in ids.iter().enumerate() {
                if id.is_empty() || id.len() > 64 {
                    v.push(lms_platform::Violation::new(
                        format!("leadIds[{i}]"),
                        "is not a lead id",
                    ));
                } else if !seen.insert(id.as_str()) {
                    v.push(lms_platform::Violation::new(
                        format!("leadIds[{i}]"),
                        "is a duplicate",
                    ));
                }
            }
        }
        if changes.is_empty() {
            v.push(lms_platform::Violation::new(
                "updates",
                "must change at least one field",
            ));
        }
        v.extend(changes.violations("updates."));
        if !v.is_empty() {
            return Err(LeadError::Invalid {
                reason: "INVALID_ARGUMENT",
                violations: v,
            });
        }
        self.check_assignee(caller, &changes, "updates.assignee")
            .await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let found = self.store.lock_leads(&mut tx, &ids).await?;
        let mut result = BulkResult {
            requested: ids.len(),
            ..Default::default()
        };
        let mut changed = Vec::new();
        let mut events = Vec::new();
        let mut done = HashSet::new();
        for id in ids {
            let lead = found
                .iter()
                .find(|l| (l.id == id || l.lead_uid == id) && caller.sees(l));
            let fail = |reason: &'static str, message: &str| BulkFailure {
                lead_id: id.clone(),
                reason,
                message: message.to_string(),
            };
            let Some(lead) = lead else {
                result.failed.push(fail("LEAD_NOT_FOUND", "lead not found"));
                continue;
            };
            if !done.insert(lead.id.clone()) {
                result
                    .failed
                    .push(fail("DUPLICATE_LEAD_ID", "the same lead is listed twice"));
                continue;
            }
            match apply(lead, &changes, caller, now) {
                Err(Denied::TerminalStatus) => result.failed.push(fail(
                    "INVALID_STATUS_TRANSITION",
                    "a closed lead can only be reopened by an ADMIN",
                )),
                Err(Denied::AssignmentNotAllowed) => result.failed.push(fail(
                    "ASSIGNMENT_NOT_ALLOWED",
                    "agents may not reassign leads",
                )),
                Ok((next, diff)) => {
                    for (ty, c) in events_of(&diff) {
                        events.push(NewEvent::of(&next, ty, &c, caller.actor(), now)?);
                    }
                    if !diff.is_empty() {
                        changed.push((lead.version, next));
                    }
                    result.updated.push(id);
                }
            }
        }
        if changed.is_empty() {
            tx.rollback().await?;
        } else {
            self.store.commit_changes(tx, changed, events).await?;
            self.hub.poke();
        }
        Ok(result)
    }
}
