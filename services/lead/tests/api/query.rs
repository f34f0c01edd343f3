//! Lists (filters, sort, keyset and offset paging, totals), single reads and agent
//! visibility.

use crate::helpers::*;
use lms_proto::common::v1::{LeadChannel, LeadPriority, LeadStatus};
use lms_proto::lead::v1 as pb;
use pb::LeadSortField as Sort;
use serde_json::json;
use tonic::Code;

/// Five leads one second apart: (scores, assignees) = L1 75 a1, L2 0 a2, L3 20 a1,
/// L4 55 a2, L5 0 (raw -30) a1.
async fn five(app: &App) -> Vec<pb::Lead> {
    app.create_product("LOAN", &loan(30)).await;
    let forms = [
        asha(),
        person("b@example.com"),
        json!({"fullName": "C", "email": "c@example.com", "leadSource": "Google"}),
        json!({"fullName": "D", "email": "d@example.com", "totalVisits": 9, "country": "IN"}),
        json!({"fullName": "E", "email": "e@test.io", "leadSource": "Google"}),
    ];
    let mut out = Vec::new();
    for f in forms {
        out.push(app.submit("LOAN", &f).await);
        app.clock.advance(chrono::Duration::seconds(1));
    }
    out
}

fn ids(r: &pb::ListLeadsResponse) -> Vec<String> {
    r.leads.iter().map(|l| l.lead_uid.clone()).collect()
}

fn uids(leads: &[pb::Lead], which: &[usize]) -> Vec<String> {
    which.iter().map(|i| leads[*i].lead_uid.clone()).collect()
}

#[tokio::test]
async fn lists_filter_sort_page_and_count() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let l = five(&app).await;
        assert_eq!(
            l.iter().map(|x| x.score).collect::<Vec<_>>(),
            vec![75, 0, 20, 55, 0]
        );
        assert_eq!(l[4].score_breakdown.as_ref().unwrap().raw_score, -30);
        let mgr = app.lead_as(&app.manager);
        let list = |req: pb::ListLeadsRequest| {
            let mut c = mgr.clone();
            async move { c.list_leads(req).await.map(tonic::Response::into_inner) }
        };

        // Default: newest first.
        let r = list(pb::ListLeadsRequest::default()).await.unwrap();
        assert_eq!(ids(&r), uids(&l, &[4, 3, 2, 1, 0]));
        assert_eq!((r.total_size, r.next_page_token.as_str()), (5, ""));
        // Score ascending, ties by id ascending (L2 before L5).
        let r = list(pb::ListLeadsRequest {
            sort_field: Sort::Score as i32,
            sort_ascending: true,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(ids(&r), uids(&l, &[1, 4, 2, 3, 0]));
        // Priority descending: URGENT, HIGH, MEDIUM, then LOW by id descending.
        let r = list(pb::ListLeadsRequest {
            sort_field: Sort::Priority as i32,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(ids(&r), uids(&l, &[0, 3, 2, 4, 1]));
        // Filters.
        let r = list(pb::ListLeadsRequest {
            priority: LeadPriority::Low as i32,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!((ids(&r), r.total_size), (uids(&l, &[4, 1]), 2));
        let r = list(pb::ListLeadsRequest {
            assignee: app.agent1.id.clone(),
            sort_ascending: true,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(ids(&r), uids(&l, &[0, 2, 4]));
        let r = list(pb::ListLeadsRequest {
            product_code: "NOPE".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(r.total_size, 0);
        let r = list(pb::ListLeadsRequest {
            create_time_from: l[1].create_time,
            create_time_to: l[3].create_time,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(ids(&r), uids(&l, &[2, 1]));
        // Status and channel filters.
        mgr.clone()
            .update_lead(pb::UpdateLeadRequest {
                lead: Some(pb::Lead {
                    id: l[2].id.clone(),
                    status: LeadStatus::InProgress as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".into()],
                }),
            })
            .await
            .unwrap();
        let r = list(pb::ListLeadsRequest {
            statuses: vec![LeadStatus::InProgress as i32, LeadStatus::Qualified as i32],
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(ids(&r), uids(&l, &[2]));
        let pkg = app.render("LOAN").await;
        let mut req = request(&pkg, &person("chat@example.com"), None);
        req.lead_channel = LeadChannel::Chatbot as i32;
        let chat = app
            .public()
            .submit_lead(req)
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap();
        let r = list(pb::ListLeadsRequest {
            lead_channel: LeadChannel::Chatbot as i32,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!((ids(&r), r.total_size), (vec![chat.lead_uid.clone()], 1));

        // Keyset paging over the five + chat, newest first.
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let r = list(pb::ListLeadsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
            assert_eq!(r.total_size, 6);
            seen.extend(ids(&r));
            if r.next_page_token.is_empty() {
                break;
            }
            token = r.next_page_token;
        }
        let mut expect = vec![chat.lead_uid.clone()];
        expect.extend(uids(&l, &[4, 3, 2, 1, 0]));
        assert_eq!(seen, expect);
        // Offset paging.
        let r = list(pb::ListLeadsRequest {
            page_size: 2,
            page_number: 1,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(ids(&r), uids(&l, &[3, 2]));

        // Bad paging and sorting.
        for size in [101, -1] {
            let e = list(pb::ListLeadsRequest {
                page_size: size,
                ..Default::default()
            })
            .await
            .unwrap_err();
            assert_eq!(
                (e.code(), fields(&e)),
                (Code::InvalidArgument, vec!["pageSize".to_string()])
            );
        }
        let e = list(pb::ListLeadsRequest {
            sort_field: 9,
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert_eq!(fields(&e), vec!["sortField"]);
        let first = list(pb::ListLeadsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap();
        let e = list(pb::ListLeadsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            sort_field: Sort::Score as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert_eq!(fields(&e), vec!["pageToken"]);
        let e = list(pb::ListLeadsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert_eq!(fields(&e), vec!["pageToken"]);
    }
}

#[tokio::test]
async fn agents_see_only_their_own_leads() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let l = five(&app).await;
        let agent = app.lead_as(&app.agent1);
        let r = agent
            .clone()
            .list_leads(pb::ListLeadsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!((ids(&r), r.total_size), (uids(&l, &[4, 2, 0]), 3));
        // Asking for another agent's leads shows nothing.
        let r = agent
            .clone()
            .list_leads(pb::ListLeadsRequest {
                assignee: app.agent2.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.total_size, 0);
        // Another agent's lead is "not found", by id and by lead_uid, and so is its history.
        for id in [l[1].id.clone(), l[1].lead_uid.clone()] {
            let e = agent
                .clone()
                .get_lead(pb::GetLeadRequest { id: id.clone() })
                .await
                .unwrap_err();
            assert_err(&e, Code::NotFound, "LEAD_NOT_FOUND");
            let e = agent
                .clone()
                .list_lead_history(pb::ListLeadHistoryRequest {
                    lead_id: id,
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_err(&e, Code::NotFound, "LEAD_NOT_FOUND");
        }
        // An unknown id looks the same.
        let e = agent
            .clone()
            .get_lead(pb::GetLeadRequest {
                id: uuid::Uuid::new_v4().to_string(),
            })
            .await
            .unwrap_err();
        assert_err(&e, Code::NotFound, "LEAD_NOT_FOUND");
        // Own lead is readable; managers and services read all.
        agent
            .clone()
            .get_lead(pb::GetLeadRequest {
                id: l[0].id.clone(),
            })
            .await
            .unwrap();
        for id in [l[0].id.clone(), l[1].id.clone()] {
            app.lead_as(&app.manager)
                .get_lead(pb::GetLeadRequest { id: id.clone() })
                .await
                .unwrap();
            app.lead_service()
                .get_lead(pb::GetLeadRequest { id })
                .await
                .unwrap();
        }
        // Without a token nothing but submission is open.
        let e = app
            .public()
            .get_lead(pb::GetLeadRequest {
                id: l[0].id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
}
