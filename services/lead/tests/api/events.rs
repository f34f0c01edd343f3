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

/// Waits until the stream's backlog holds `n` events.
async fn sequenced(app: &App, n: usize) {
    for _ in 0..200 {
        let req = pb::StreamEventsRequest {
            no_follow: true,
            ..Default::default()
        };
        if drain(app, req).await.len() >= n {
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
        sequenced(&app, 40).await;
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

/// Writes one event in a transaction of its own.
async fn committed(store: &Store, lead: &str) {
    let mut tx = store.begin().await.unwrap();
    store
        .insert_events_in(&mut tx, vec![event(lead)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// One pass of a consumer: the sequencer runs, then the events after `cursor`.
async fn consume(store: &Store, cursor: i64) -> Vec<lms_lead::store::EventRow> {
    store.sequence().await.unwrap();
    store.events_after(cursor, &[], 100).await.unwrap()
}

/// (position, lead id) of each event, in order.
fn positions(events: &[lms_lead::store::EventRow]) -> Vec<(i64, &str)> {
    events
        .iter()
        .map(|e| (e.position.unwrap(), e.lead_id.as_str()))
        .collect()
}

/// Consumer passes until `n` events after `cursor` are there (never more). On PostgreSQL
/// the sequencer also waits for writing transactions of other tests on the same server
/// (each `CREATE DATABASE` is one), so one pass may find less than is committed.
async fn consume_n(store: &Store, cursor: i64, n: usize) -> Vec<lms_lead::store::EventRow> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = consume(store, cursor).await;
        assert!(got.len() <= n, "more events than committed: {}", got.len());
        if got.len() == n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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

        if backend == Backend::Postgres {
            // T1 starts writing first (it holds the older transaction id) but inserts
            // its event last, so its event has the larger id; T2 commits first.
            let mut t1 = store.begin().await.unwrap();
            sqlx::query("INSERT INTO form_nonces (nonce, expire_time) VALUES ('n1', 0)")
                .execute(&mut *t1.tx)
                .await
                .unwrap();
            let mut t2 = store.begin().await.unwrap();
            store
                .insert_events_in(&mut t2, vec![event("second")])
                .await
                .unwrap();
            t2.commit().await.unwrap();
            store
                .insert_events_in(&mut t1, vec![event("first")])
                .await
                .unwrap();
            // T2's event is held back while the older T1 may still add events before it.
            assert_eq!(store.sequence().await.unwrap(), 0);
            assert!(consume(&store, cursor).await.is_empty());
            t1.commit().await.unwrap();
            let all = consume_n(&store, 0, 2).await;
            let order: Vec<&str> = all.iter().map(|e| e.lead_id.as_str()).collect();
            assert_eq!(
                order,
                ["first", "second"],
                "transaction order, not id order"
            );
            assert!(
                all[0].id > all[1].id,
                "the first delivered has the larger id"
            );
            assert_eq!(
                all.iter().map(|e| e.position).collect::<Vec<_>>(),
                [Some(1), Some(2)]
            );
        } else {
            // SQLite serializes writers: T2 cannot start while T1 is open, and a reader
            // sees nothing uncommitted.
            let mut t1 = store.begin().await.unwrap();
            store
                .insert_events_in(&mut t1, vec![event("first")])
                .await
                .unwrap();
            assert!(consume(&store, cursor).await.is_empty());
            t1.commit().await.unwrap();
            committed(&store, "second").await;
        }
        for e in consume_n(&store, cursor, 2).await {
            cursor = e.position.unwrap();
            consumed.push(e.lead_id);
        }
        assert_eq!(consumed, ["first", "second"], "{backend:?}");
        assert_eq!(cursor, 2);
        // A transaction that rolls back leaves no event and no hole.
        let mut t3 = store.begin().await.unwrap();
        store
            .insert_events_in(&mut t3, vec![event("gone")])
            .await
            .unwrap();
        t3.rollback().await.unwrap();
        committed(&store, "third").await;
        let tail = consume_n(&store, cursor, 1).await;
        assert_eq!(positions(&tail), [(3, "third")], "{backend:?}");
        assert_eq!(store.sequence().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn events_are_numbered_again_after_a_logical_restore() {
    let backends = lms_testkit::backends();
    if backends.contains(&Backend::Sqlite) {
        // SQLite needs no repair: the position is the row id.
        let lite = TestDb::new(Backend::Sqlite).await.unwrap();
        let lite = lite.connect("lead").await.unwrap();
        lms_lead::migrate(&lite).await.unwrap();
        assert_eq!(lms_lead::repair_event_positions(&lite).await.unwrap(), None);
    }
    if !backends.contains(&Backend::Postgres) {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let conn = db.connect("lead").await.unwrap();
    lms_lead::migrate(&conn).await.unwrap();
    let store = Store::new(conn.clone());
    committed(&store, "a").await;
    assert_eq!(consume_n(&store, 0, 1).await.len(), 1);
    // A restore onto another server: the old server's transaction ids are far ahead of
    // the new one's; "b" committed there before the dump and was never numbered.
    committed(&store, "b").await;
    let old_server = 9_000_000_000_000_i64;
    sqlx::query("UPDATE lead_events SET tx_id = $1 + id")
        .bind(old_server)
        .execute(&conn.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE event_sequencer SET last_tx = $1 + last_id")
        .bind(old_server)
        .execute(&conn.pool)
        .await
        .unwrap();
    committed(&store, "c").await;
    let stalled = store.sequence().await.unwrap_err().to_string();
    assert!(stalled.contains("repair-event-positions"), "{stalled}");
    assert_eq!(
        lms_lead::repair_event_positions(&conn).await.unwrap(),
        Some(2)
    );
    assert_eq!(lms_lead::repair_event_positions(&conn).await.unwrap(), None);
    committed(&store, "d").await;
    let rest = consume_n(&store, 1, 3).await;
    assert_eq!(positions(&rest), [(2, "b"), (3, "c"), (4, "d")]);
    // Copied events can also sit behind an unremarkable watermark: one committed here,
    // then given a transaction id from the future, as a second restore (from a server
    // further ahead still) would leave it.
    committed(&store, "e").await;
    sqlx::query("UPDATE lead_events SET tx_id = $1 WHERE lead_id = 'e'")
        .bind(2 * old_server)
        .execute(&conn.pool)
        .await
        .unwrap();
    assert!(
        store.sequence().await.is_err(),
        "a foreign event is noticed"
    );
    assert_eq!(
        lms_lead::repair_event_positions(&conn).await.unwrap(),
        Some(1)
    );
    committed(&store, "f").await;
    let rest = consume_n(&store, 4, 2).await;
    assert_eq!(positions(&rest), [(5, "e"), (6, "f")]);
    assert_eq!(store.sequence().await.unwrap(), 0);
}

/// The sequencer's state query runs on every pass (every few milliseconds under load): its
/// check for copied events must stay one index probe however large the event table is,
/// also after a repair left copied events with transaction ids ahead of this server's.
#[tokio::test]
async fn the_sequencer_state_check_probes_the_index_instead_of_scanning_events() {
    if !lms_testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let conn = db.connect("lead").await.unwrap();
    lms_lead::migrate(&conn).await.unwrap();
    let store = Store::new(conn.clone());
    // 20,000 events, the first half from an old server (far ahead) and repaired.
    let insert = "INSERT INTO lead_events (event_id, lead_id, event_type, payload, changes, \
                  actor, lead_version, created_at, tx_id) \
                  SELECT 'e' || g || '-' || $1, 'l' || g, 'LEAD_CREATED', '{}', '[]', '', 1, 0, $2 + g \
                  FROM generate_series(1, 10000) g";
    sqlx::query(insert)
        .bind("old")
        .bind(9_000_000_000_000_i64)
        .execute(&conn.pool)
        .await
        .unwrap();
    assert_eq!(
        lms_lead::repair_event_positions(&conn).await.unwrap(),
        Some(10_000)
    );
    sqlx::query(insert)
        .bind("new")
        .bind(0_i64)
        .execute(&conn.pool)
        .await
        .unwrap();
    sqlx::query("ANALYZE lead_events")
        .execute(&conn.pool)
        .await
        .unwrap();
    let plan: Vec<String> =
        sqlx::query_scalar(&format!("EXPLAIN {}", lms_lead::store::SEQUENCER_STATE))
            .fetch_all(&conn.pool)
            .await
            .unwrap();
    let plan = plan.join("\n");
    assert!(
        !plan.contains("Seq Scan on lead_events") && plan.contains("lead_events_tx"),
        "{plan}"
    );
    let foreign: i64 = sqlx::query_scalar(&format!(
        "SELECT foreign_ FROM ({}) AS s(p, t, i, f, foreign_)",
        lms_lead::store::SEQUENCER_STATE
    ))
    .fetch_one(&conn.pool)
    .await
    .unwrap();
    assert_eq!(foreign, 0, "the repaired copy is not reported again");
    assert!(store.sequence().await.is_ok());
}
