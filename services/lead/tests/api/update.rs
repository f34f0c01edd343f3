//! Updates: the field allowlist, optimistic versions, terminal statuses, what agents may
//! do, and the history every change leaves.

use crate::helpers::*;
use lms_proto::common::v1::{LeadPriority, LeadStatus};
use lms_proto::lead::v1 as pb;
use tonic::Code;

fn update(lead: pb::Lead, paths: &[&str]) -> pb::UpdateLeadRequest {
    pb::UpdateLeadRequest {
        lead: Some(lead),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_string()).collect(),
        }),
    }
}

#[tokio::test]
async fn updates_follow_the_allowlist_versions_and_status_rules() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        app.create_product("LOAN", &loan(30)).await;
        let lead = app.submit("LOAN", &asha()).await;
        let mgr = app.lead_as(&app.manager);
        let send = |req: pb::UpdateLeadRequest| {
            let mut c = mgr.clone();
            async move {
                c.update_lead(req)
                    .await
                    .map(|r| r.into_inner().lead.unwrap())
            }
        };

        // Read-only fields are refused by name, and nothing changes.
        for path in ["score", "formData", "lead_uid", "createTime"] {
            let mut l = lead.clone();
            l.score = 1;
            let e = send(update(l, &[path])).await.unwrap_err();
            assert_err(&e, Code::InvalidArgument, "FIELD_NOT_WRITABLE");
            assert_eq!(fields(&e), vec![path.to_string()]);
        }
        // A change with the current version.
        let mut l = lead.clone();
        l.status = LeadStatus::InProgress as i32;
        l.lead_comment = "called, wants a quote".into();
        let v2 = send(update(l.clone(), &["status", "leadComment"]))
            .await
            .unwrap();
        assert_eq!(
            (v2.status, v2.version, v2.lead_comment.as_str()),
            (LeadStatus::InProgress as i32, 2, "called, wants a quote")
        );
        // The same stale version again: 409.
        let mut stale = l.clone();
        stale.priority = LeadPriority::Low as i32;
        let e = send(update(stale, &["priority"])).await.unwrap_err();
        assert_err(&e, Code::Aborted, "LEAD_VERSION_CONFLICT");
        // Bad values.
        let mut long = v2.clone();
        long.lead_comment = "x".repeat(4_001);
        let e = send(update(long, &["lead_comment"])).await.unwrap_err();
        assert_eq!(
            (e.code(), fields(&e)),
            (Code::InvalidArgument, vec!["leadComment".to_string()])
        );
        let mut bad = v2.clone();
        bad.status = 42;
        let e = send(update(bad, &["status"])).await.unwrap_err();
        assert_eq!(fields(&e), vec!["status"]);
        let mut nobody = v2.clone();
        nobody.assignee = uuid::Uuid::new_v4().to_string();
        let e = send(update(nobody, &["assignee"])).await.unwrap_err();
        assert_err(&e, Code::InvalidArgument, "ASSIGNEE_UNKNOWN");

        // Terminal statuses: a manager closes, cannot reopen; an admin can.
        let mut won = v2.clone();
        won.status = LeadStatus::ClosedWon as i32;
        let v3 = send(update(won, &["status"])).await.unwrap();
        let mut reopen = v3.clone();
        reopen.status = LeadStatus::New as i32;
        let e = send(update(reopen.clone(), &["status"])).await.unwrap_err();
        assert_err(&e, Code::FailedPrecondition, "INVALID_STATUS_TRANSITION");
        // Other fields of a closed lead may still change.
        let mut note = v3.clone();
        note.lead_comment = "signed".into();
        let v4 = send(update(note, &["leadComment"])).await.unwrap();
        reopen.version = v4.version;
        let v5 = app
            .lead_as(&app.admin)
            .update_lead(update(reopen, &["status"]))
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap();
        assert_eq!((v5.status, v5.version), (LeadStatus::New as i32, 5));
        // Reassign to the other agent (version 0: no check).
        let mut give = v5.clone();
        give.version = 0;
        give.assignee = app.agent2.id.clone();
        let v6 = send(update(give, &["assignee"])).await.unwrap();
        assert_eq!(
            (v6.assignee.as_str(), v6.version),
            (app.agent2.id.as_str(), 6)
        );
        // Values equal to the stored ones change nothing.
        let same = send(update(v6.clone(), &["assignee", "status"]))
            .await
            .unwrap();
        assert_eq!(same.version, 6);

        // History: every change, oldest first, with actor, changes and versions.
        let h = app
            .lead_as(&app.admin)
            .list_lead_history(pb::ListLeadHistoryRequest {
                lead_id: lead.lead_uid.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let got: Vec<(String, String, i64, Vec<(String, String, String)>)> = h
            .entries
            .iter()
            .map(|e| {
                (
                    e.event_type.clone(),
                    e.actor.clone(),
                    e.lead_version,
                    e.changes
                        .iter()
                        .map(|c| (c.field.clone(), c.old_value.clone(), c.new_value.clone()))
                        .collect(),
                )
            })
            .collect();
        let m = app.manager.id.clone();
        let a = app.admin.id.clone();
        let ch = |f: &str, o: &str, n: &str| (f.to_string(), o.to_string(), n.to_string());
        assert_eq!(
            got,
            vec![
                ("LeadCreated".into(), String::new(), 1, vec![]),
                (
                    "LeadUpdated".into(),
                    m.clone(),
                    2,
                    vec![
                        ch("status", "NEW", "IN_PROGRESS"),
                        ch("leadComment", "", "called, wants a quote")
                    ]
                ),
                (
                    "LeadStatusChanged".into(),
                    m.clone(),
                    2,
                    vec![ch("status", "NEW", "IN_PROGRESS")]
                ),
                (
                    "LeadUpdated".into(),
                    m.clone(),
                    3,
                    vec![ch("status", "IN_PROGRESS", "CLOSED_WON")]
                ),
                (
                    "LeadStatusChanged".into(),
                    m.clone(),
                    3,
                    vec![ch("status", "IN_PROGRESS", "CLOSED_WON")]
                ),
                (
                    "LeadUpdated".into(),
                    m.clone(),
                    4,
                    vec![ch("leadComment", "called, wants a quote", "signed")]
                ),
                (
                    "LeadUpdated".into(),
                    a.clone(),
                    5,
                    vec![ch("status", "CLOSED_WON", "NEW")]
                ),
                (
                    "LeadStatusChanged".into(),
                    a.clone(),
                    5,
                    vec![ch("status", "CLOSED_WON", "NEW")]
                ),
                (
                    "LeadUpdated".into(),
                    m.clone(),
                    6,
                    vec![ch("assignee", &app.agent1.id, &app.agent2.id)]
                ),
                (
                    "LeadAssigned".into(),
                    m.clone(),
                    6,
                    vec![ch("assignee", &app.agent1.id, &app.agent2.id)]
                ),
            ]
        );
        // History pages.
        let p1 = app
            .lead_as(&app.admin)
            .list_lead_history(pb::ListLeadHistoryRequest {
                lead_id: lead.id.clone(),
                page_size: 4,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p1.entries.len(), 4);
        let p2 = app
            .lead_as(&app.admin)
            .list_lead_history(pb::ListLeadHistoryRequest {
                lead_id: lead.id.clone(),
                page_size: 100,
                page_token: p1.next_page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p2.entries.len(), 6);
        assert_eq!(p2.entries[0].event_id, h.entries[4].event_id);
        assert!(p2.next_page_token.is_empty());
    }
}

#[tokio::test]
async fn agents_work_only_their_own_leads_and_cannot_give_them_away() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        app.create_product("LOAN", &loan(30)).await;
        let mine = app.submit("LOAN", &asha()).await;
        let theirs = app.submit("LOAN", &person("b@example.com")).await;
        assert_eq!(
            (mine.assignee.as_str(), theirs.assignee.as_str()),
            (app.agent1.id.as_str(), app.agent2.id.as_str())
        );
        let agent = app.lead_as(&app.agent1);
        let mut l = mine.clone();
        l.status = LeadStatus::Qualified as i32;
        let done = agent
            .clone()
            .update_lead(update(l, &["status"]))
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap();
        assert_eq!(done.status, LeadStatus::Qualified as i32);
        // Giving it away is refused.
        let mut give = done.clone();
        give.assignee = app.agent2.id.clone();
        let e = agent
            .clone()
            .update_lead(update(give, &["assignee"]))
            .await
            .unwrap_err();
        assert_err(&e, Code::PermissionDenied, "ASSIGNMENT_NOT_ALLOWED");
        let mut drop = done.clone();
        drop.assignee = String::new();
        let e = agent
            .clone()
            .update_lead(update(drop, &["assignee"]))
            .await
            .unwrap_err();
        assert_err(&e, Code::PermissionDenied, "ASSIGNMENT_NOT_ALLOWED");
        // Another agent's lead does not exist for them.
        let mut other = theirs.clone();
        other.lead_comment = "mine now".into();
        let e = agent
            .clone()
            .update_lead(update(other, &["leadComment"]))
            .await
            .unwrap_err();
        assert_err(&e, Code::NotFound, "LEAD_NOT_FOUND");
        let stored = app.read_lead(&app.admin, &theirs.id).await;
        assert_eq!((stored.version, stored.lead_comment.as_str()), (1, ""));
    }
}
