//! Bulk updates: 500 at once, limits, per-id errors for foreign ids and closed leads,
//! agents limited to their own leads, and all-or-nothing on a database failure.

use crate::helpers::*;
use futures::StreamExt;
use lms_proto::common::v1::{LeadPriority, LeadStatus};
use lms_proto::lead::v1 as pb;
use tonic::Code;

async fn many(app: &App, n: usize) -> Vec<pb::Lead> {
    app.create_product("LOAN", &loan(30)).await;
    futures::stream::iter(0..n)
        .map(|i| async move {
            app.submit("LOAN", &person(&format!("p{i}@example.com")))
                .await
        })
        .buffer_unordered(16)
        .collect()
        .await
}

fn bulk(ids: Vec<String>, changes: pb::LeadChanges) -> pb::BulkUpdateLeadsRequest {
    pb::BulkUpdateLeadsRequest {
        lead_ids: ids,
        updates: Some(changes),
    }
}

fn to_progress() -> pb::LeadChanges {
    pb::LeadChanges {
        status: LeadStatus::InProgress as i32,
        priority: LeadPriority::High as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn bulk_updates_500_and_reports_per_id_failures() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let leads = many(&app, 500).await;
        let ids: Vec<String> = leads.iter().map(|l| l.id.clone()).collect();
        let mgr = app.lead_as(&app.manager);

        // 501 ids, duplicates, or no change: refused whole.
        let mut too_many = ids.clone();
        too_many.push(uuid::Uuid::new_v4().to_string());
        let e = mgr
            .clone()
            .bulk_update_leads(bulk(too_many, to_progress()))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), fields(&e)),
            (Code::InvalidArgument, vec!["leadIds".to_string()])
        );
        let e = mgr
            .clone()
            .bulk_update_leads(bulk(vec![ids[0].clone(), ids[0].clone()], to_progress()))
            .await
            .unwrap_err();
        assert_eq!(fields(&e), vec!["leadIds[1]"]);
        let e = mgr
            .clone()
            .bulk_update_leads(bulk(vec![ids[0].clone()], pb::LeadChanges::default()))
            .await
            .unwrap_err();
        assert_eq!(fields(&e), vec!["updates"]);
        assert_eq!(app.count("lead_events").await, 500);

        // 500 at once.
        let r = mgr
            .clone()
            .bulk_update_leads(bulk(ids.clone(), to_progress()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (r.total_requested, r.total_updated, r.total_failed),
            (500, 500, 0),
            "{backend:?}"
        );
        assert_eq!(r.updated_lead_ids, ids);
        let listed = mgr
            .clone()
            .list_leads(pb::ListLeadsRequest {
                statuses: vec![LeadStatus::InProgress as i32],
                priority: LeadPriority::High as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.total_size, 500);
        // Each changed lead got LeadUpdated + LeadStatusChanged.
        assert_eq!(app.count("lead_events").await, 500 + 1_000);

        // A foreign (unknown) id is reported; the others change.
        let closed = &leads[2];
        app.lead_as(&app.admin)
            .update_lead(pb::UpdateLeadRequest {
                lead: Some(pb::Lead {
                    id: closed.id.clone(),
                    status: LeadStatus::ClosedLost as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".into()],
                }),
            })
            .await
            .unwrap();
        let foreign = uuid::Uuid::new_v4().to_string();
        let r = mgr
            .clone()
            .bulk_update_leads(bulk(
                vec![
                    leads[0].lead_uid.clone(),
                    foreign.clone(),
                    leads[1].id.clone(),
                    closed.id.clone(),
                ],
                pb::LeadChanges {
                    status: LeadStatus::Qualified as i32,
                    lead_comment: Some("batch".into()),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (r.total_requested, r.total_updated, r.total_failed),
            (4, 2, 2)
        );
        assert_eq!(
            r.updated_lead_ids,
            vec![leads[0].lead_uid.clone(), leads[1].id.clone()]
        );
        assert_eq!(r.failed_lead_ids, vec![foreign.clone(), closed.id.clone()]);
        let reasons: Vec<(&str, &str)> = r
            .errors
            .iter()
            .map(|e| (e.lead_id.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (foreign.as_str(), "LEAD_NOT_FOUND"),
                (closed.id.as_str(), "INVALID_STATUS_TRANSITION")
            ]
        );
        let c = app.read_lead(&app.manager, &closed.id).await;
        assert_eq!(
            (c.status, c.lead_comment.as_str()),
            (LeadStatus::ClosedLost as i32, "")
        );
        let q = app.read_lead(&app.manager, &leads[0].id).await;
        assert_eq!(
            (q.status, q.lead_comment.as_str(), q.version),
            (LeadStatus::Qualified as i32, "batch", 3)
        );
    }
}

#[tokio::test]
async fn agents_bulk_update_only_their_own_leads() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let leads = many(&app, 6).await;
        let own: Vec<&pb::Lead> = leads
            .iter()
            .filter(|l| l.assignee == app.agent1.id)
            .collect();
        let other = leads
            .iter()
            .find(|l| l.assignee != app.agent1.id)
            .expect("round robin spreads leads over both agents");
        assert!(own.len() >= 2, "{backend:?}");
        let agent = app.lead_as(&app.agent1);
        // Another agent's lead is reported as not found (as a single GET would say);
        // the agent's own leads change.
        let r = agent
            .clone()
            .bulk_update_leads(bulk(
                vec![own[0].id.clone(), other.id.clone(), own[1].lead_uid.clone()],
                to_progress(),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (r.total_requested, r.total_updated, r.total_failed),
            (3, 2, 1),
            "{backend:?}"
        );
        assert_eq!(r.failed_lead_ids, vec![other.id.clone()]);
        assert_eq!(r.errors[0].reason, "LEAD_NOT_FOUND");
        // Reassigning is not an agent's to do: refused per id, nothing changes.
        let r = agent
            .clone()
            .bulk_update_leads(bulk(
                vec![own[0].id.clone()],
                pb::LeadChanges {
                    assignee: Some(app.agent2.id.clone()),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.errors[0].reason, "ASSIGNMENT_NOT_ALLOWED");
        let app = &app;
        let status = |id: String| async move {
            let l = app.read_lead(&app.manager, &id).await;
            (l.status, l.assignee)
        };
        assert_eq!(
            status(own[0].id.clone()).await,
            (LeadStatus::InProgress as i32, app.agent1.id.clone())
        );
        assert_eq!(
            status(other.id.clone()).await,
            (LeadStatus::New as i32, other.assignee.clone())
        );
    }
}

#[tokio::test]
async fn a_database_failure_in_a_bulk_update_changes_nothing() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let leads = many(&app, 10).await;
        let victim = leads[9].id.clone();
        // Inject a failure on the last lead's update.
        match backend {
            lms_testkit::Backend::Postgres => {
                sqlx::query(
                    "CREATE FUNCTION fail_update() RETURNS trigger AS $$ BEGIN \
                     RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
                )
                .execute(&app.lead_db.pool)
                .await
                .unwrap();
                sqlx::query(&format!(
                    "CREATE TRIGGER fail_one BEFORE UPDATE ON leads FOR EACH ROW \
                     WHEN (NEW.id = '{victim}') EXECUTE FUNCTION fail_update()"
                ))
                .execute(&app.lead_db.pool)
                .await
                .unwrap();
            }
            lms_testkit::Backend::Sqlite => {
                sqlx::query(&format!(
                    "CREATE TRIGGER fail_one BEFORE UPDATE ON leads WHEN NEW.id = '{victim}' \
                     BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                ))
                .execute(&app.lead_db.pool)
                .await
                .unwrap();
            }
        }
        let mut ids: Vec<String> = leads.iter().map(|l| l.id.clone()).collect();
        ids.sort_by_key(|id| *id == victim);
        let e = app
            .lead_as(&app.manager)
            .bulk_update_leads(bulk(ids, to_progress()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Internal, "{e:?}");
        let untouched: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM leads WHERE version = 1 AND status = 1")
                .fetch_one(&app.lead_db.pool)
                .await
                .unwrap();
        assert_eq!(untouched, 10, "{backend:?}");
        assert_eq!(app.count("lead_events").await, 10);
    }
}
