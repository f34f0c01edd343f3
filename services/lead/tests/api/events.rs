//! The event log: StreamEvents order, filters, following, permissions, and the
//! out-of-order commit case driven directly through the store.

use crate::helpers::*;
use futures::StreamExt;
use lms_lead::domain::{Channel, EventType, Lead, LeadStatus, Priority, ScoreBreakdown};
use lms_lead::store::{NewEvent, Store};
use lms_proto::common::v1::LeadStatus as PbStatus;
use lms_proto::lead::v1 as pb;
use lms_testkit::{Backend, TestDb};
use std::time::Duration;
use tonic::Code;

/// Waits until every committed event has a position.
async fn sequenced(app: &App) {
    for _ in 0..200 {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM lead_events WHERE position IS NULL")
                .fetch_one(&app.lead_db.pool)
                .await
                .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("events were not sequenced");
}

async fn drain(app: &App, req: pb::StreamEventsRequest) -> Vec<pb::LeadEvent> {
    let mut s = app
        .lead_as(&app.admin)
        .stream_events(req)
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(e) = s.next().await {
        out.push(e.unwrap().event.unwrap());
    }
    out
}

#[tokio::test]
async fn stream_events_serves_every_event_in_order_and_follows() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        app.create_product("LOAN", &loan(30)).await;
        // Concurrent writers: submissions and updates interleave.
        let leads: Vec<pb::Lead> = futures::stream::iter(0..20)
            .map(|i| {
                let app = &app;
                async move {
                    app.submit("LOAN", &person(&format!("s{i}@example.com")))
                        .await
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mgr = app.lead_as(&app.manager);
        futures::stream::iter(leads.iter().take(10))
            .for_each_concurrent(5, |l| {
                let mut c = mgr.clone();
                async move {
                    c.update_lead(pb::UpdateLeadRequest {
                        lead: Some(pb::Lead {
                            id: l.id.clone(),
                            status: PbStatus::InProgress as i32,
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["status".into()],
                        }),
                    })
                    .await
                    .unwrap();
                }
            })
            .await;
        sequenced(&app).await;
        let all = drain(
            &app,
            pb::StreamEventsRequest {
                no_follow: true,
                ..Default::default()
            },
        )
        .await;
        // 20 created + 10 x (updated + status changed), positions 1..=40 without gaps.
        assert_eq!(all.len(), 40, "{backend:?}");
        let positions: Vec<i64> = all.iter().map(|e| e.position).collect();
        assert_eq!(positions, (1..=40).collect::<Vec<_>>());
        let mut ids: Vec<&str> = all.iter().map(|e| e.event_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 40);
        // Each lead's own events come in version order, with the lead after the change.
        for l in &leads {
            let mine: Vec<&pb::LeadEvent> = all.iter().filter(|e| e.lead_id == l.id).collect();
            assert_eq!(mine[0].event_type, "LeadCreated");
            assert_eq!(mine[0].lead.as_ref().unwrap(), l);
            let versions: Vec<i64> = mine
                .iter()
                .map(|e| e.lead.as_ref().unwrap().version)
                .collect();
            assert!(versions.windows(2).all(|w| w[0] <= w[1]), "{versions:?}");
        }
        // Type filter and cursor.
        let changed = drain(
            &app,
            pb::StreamEventsRequest {
                event_types: vec!["LeadStatusChanged".into()],
                no_follow: true,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(changed.len(), 10);
        assert!(
            changed
                .iter()
                .all(|e| e.changes.len() == 1 && e.changes[0].field == "status")
        );
        let tail = drain(
            &app,
            pb::StreamEventsRequest {
                after_position: 35,
                no_follow: true,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            tail.iter().map(|e| e.position).collect::<Vec<_>>(),
            vec![36, 37, 38, 39, 40]
        );

        // Following: a new submission arrives on an open stream.
        let mut follow = app
            .lead_as(&app.admin)
            .stream_events(pb::StreamEventsRequest {
                after_position: 40,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let fresh = app.submit("LOAN", &person("late@example.com")).await;
        let got = tokio::time::timeout(Duration::from_secs(10), follow.next())
            .await
            .expect("event within 10 s")
            .unwrap()
            .unwrap()
            .event
            .unwrap();
        assert_eq!(
            (got.position, got.lead_id.as_str(), got.event_type.as_str()),
            (41, fresh.id.as_str(), "LeadCreated")
        );

        // Only ADMIN and services may read the stream.
        for who in [&app.manager, &app.agent1] {
            let e = app
                .lead_as(who)
                .stream_events(pb::StreamEventsRequest::default())
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::PermissionDenied);
        }
        let e = app
            .public()
            .stream_events(pb::StreamEventsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let svc = app
            .lead_service()
            .stream_events(pb::StreamEventsRequest {
                no_follow: true,
                after_position: 40,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .collect::<Vec<_>>()
            .await;
        assert_eq!(svc.len(), 1);
    }
}

fn lead(id: &str) -> Lead {
    let now = chrono::Utc::now();
    Lead {
        id: id.to_string(),
        lead_uid: format!("L-2026-{id}"),
        product_code: "P".into(),
        status: LeadStatus::New,
        priority: Priority::Low,
        score: 0,
        assignee: String::new(),
        form_data: serde_json::Map::new(),
        config_hash: "h".into(),
        scoring_version: 1,
        lead_channel: Channel::Form,
        lead_comment: String::new(),
        document_metadata: None,
        score_breakdown: ScoreBreakdown::default(),
        version: 1,
        create_time: now,
        update_time: now,
    }
}

fn event(id: &str) -> NewEvent {
    NewEvent::of(
        &lead(id),
        EventType::LeadCreated,
        &[],
        "",
        chrono::Utc::now(),
    )
    .unwrap()
}

#[tokio::test]
async fn an_event_that_commits_late_is_not_skipped() {
    for backend in lms_testkit::backends() {
        let db = TestDb::new(backend).await.unwrap();
        let conn = db.connect("lead").await.unwrap();
        lms_lead::migrate(&conn).await.unwrap();
        let store = Store::new(conn);
        let mut cursor = 0;
        let mut consumed: Vec<String> = Vec::new();
        let consume =
            |batch: Vec<lms_lead::store::EventRow>, cursor: &mut i64, out: &mut Vec<String>| {
                for e in batch {
                    *cursor = e.position.unwrap();
                    out.push(e.lead_id);
                }
            };

        // T1 inserts first (smaller id) and stays open.
        let mut t1 = store.begin().await.unwrap();
        store
            .insert_events_in(&mut t1, vec![event("first")])
            .await
            .unwrap();
        if backend == Backend::Postgres {
            // T2 inserts later and commits first.
            let mut t2 = store.begin().await.unwrap();
            store
                .insert_events_in(&mut t2, vec![event("second")])
                .await
                .unwrap();
            t2.commit().await.unwrap();
            assert_eq!(store.sequence().await.unwrap(), 1);
            let batch = store.events_after(cursor, &[], 100).await.unwrap();
            consume(batch, &mut cursor, &mut consumed);
            assert_eq!(consumed, vec!["second"]);
        } else {
            // SQLite serializes writers: T2 cannot start while T1 is open; a reader sees
            // nothing uncommitted and the sequencer finds nothing to number.
            assert_eq!(store.sequence().await.unwrap(), 0);
            assert!(store.events_after(0, &[], 100).await.unwrap().is_empty());
        }
        // T1 commits after the consumer has moved past T2's position.
        t1.commit().await.unwrap();
        assert_eq!(store.sequence().await.unwrap(), 1);
        let batch = store.events_after(cursor, &[], 100).await.unwrap();
        consume(batch, &mut cursor, &mut consumed);
        let expect: Vec<&str> = if backend == Backend::Postgres {
            vec!["second", "first"]
        } else {
            vec!["first"]
        };
        assert_eq!(consumed, expect, "{backend:?}");
        // Insert order (id) and delivery order (position) differ, and nothing is left.
        let all = store.events_after(0, &[], 100).await.unwrap();
        if backend == Backend::Postgres {
            assert!(all[0].id > all[1].id, "the late event has the smaller id");
        }
        assert!(
            store
                .events_after(cursor, &[], 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.sequence().await.unwrap(), 0);
    }
}
