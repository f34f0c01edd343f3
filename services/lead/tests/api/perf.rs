//! A smoke measurement of the submission path (ignored by default; run in release):
//! `cargo test --release -p lms-lead --test api perf -- --ignored --nocapture`.
//! It compares lead submissions over gRPC (tokens verified locally with keys fetched
//! once from config; no gateway) with the raw single-row INSERT into `leads` on the same
//! database. The VerifyFormToken rate is printed for comparison with the old config hop.

use crate::helpers::*;
use futures::StreamExt;
use std::time::{Duration, Instant};

const N: usize = 2_000;
const CONCURRENCY: usize = 32;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run in release with --ignored"]
async fn perf_submissions_against_raw_inserts() {
    for backend in lms_testkit::backends() {
        let app = App::spawn_with(backend, |c| c.agent_cache_seconds = 30).await;
        app.create_product("LOAN", &loan(30)).await;
        let pkgs: Vec<_> = futures::stream::iter(0..N)
            .map(|_| app.render("LOAN"))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        // Sequential latency (exposes Nagle / delayed-ACK stalls).
        let t = Instant::now();
        for p in pkgs.iter().take(50) {
            app.submit_with(p, &person("seq@example.com"), None)
                .await
                .unwrap();
        }
        println!("{backend:?}: sequential submit {:?} each", t.elapsed() / 50);
        let pkgs = &pkgs[50..];
        // The config hop alone: VerifyFormToken at the same concurrency.
        let started = Instant::now();
        futures::stream::iter(pkgs.iter())
            .for_each_concurrent(CONCURRENCY, |p| {
                let mut c =
                    lms_proto::config::v1::product_service_client::ProductServiceClient::new(
                        app.rt.mesh(
                            &lms_platform::grpc_client::lazy_channel(&app.config_url).unwrap(),
                        ),
                    );
                async move {
                    c.verify_form_token(lms_proto::config::v1::VerifyFormTokenRequest {
                        signature: p.signature.clone(),
                    })
                    .await
                    .unwrap();
                }
            })
            .await;
        let verify_rate = N as f64 / started.elapsed().as_secs_f64();
        println!("{backend:?}: verify {verify_rate:.0}/s");
        let started = Instant::now();
        let mut lat: Vec<Duration> = futures::stream::iter(pkgs.iter().enumerate())
            .map(|(i, p)| {
                let app = &app;
                async move {
                    let t = Instant::now();
                    app.submit_with(p, &person(&format!("p{i}@example.com")), None)
                        .await
                        .unwrap();
                    t.elapsed()
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let took = started.elapsed();
        lat.sort();
        let submit_rate = pkgs.len() as f64 / took.as_secs_f64();

        // A fixed rate of 500 submissions/s for 3 s: latency percentiles.
        let fresh: Vec<_> = futures::stream::iter(0..1_500)
            .map(|_| app.render("LOAN"))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        let mut tasks = Vec::new();
        for (i, p) in fresh.into_iter().enumerate() {
            tick.tick().await;
            let client = app.public();
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let mut c = client;
                c.submit_lead(request(&p, &person(&format!("r{i}@example.com")), None))
                    .await
                    .unwrap();
                t.elapsed()
            }));
        }
        let mut fixed = Vec::new();
        for t in tasks {
            fixed.push(t.await.unwrap());
        }
        fixed.sort();
        println!(
            "{backend:?}: at 500/s p50 {:?}, p99 {:?}",
            pct(&fixed, 0.5),
            pct(&fixed, 0.99)
        );

        let sql = "INSERT INTO leads (id, lead_uid, product_code, status, priority, score, \
            assignee, form_data, config_hash, scoring_version, lead_channel, lead_comment, \
            document_metadata, score_breakdown, version, create_time, update_time, dup_key) \
            VALUES ($1, $2, 'LOAN', 1, 1, 0, '', '{\"fullName\":\"x\"}', 'h', 1, 1, '', NULL, \
            '{\"items\":[],\"rawScore\":0}', 1, 1, 1, NULL)";
        let started = Instant::now();
        futures::stream::iter(0..N)
            .for_each_concurrent(CONCURRENCY, |i| {
                let pool = app.lead_db.pool.clone();
                async move {
                    sqlx::query(sql)
                        .bind(uuid::Uuid::now_v7().to_string())
                        .bind(format!("RAW-{i}"))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            })
            .await;
        let raw_rate = N as f64 / started.elapsed().as_secs_f64();
        println!(
            "{backend:?}: submit {submit_rate:.0}/s (p50 {:?}, p99 {:?}), raw insert {raw_rate:.0}/s, ratio {:.2}",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            submit_rate / raw_rate
        );
    }
}
