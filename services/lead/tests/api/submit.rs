//! The public submission: content of a created lead, every bad-input case (each writes
//! nothing), token reuse, idempotency, older versions and duplicate policies.

use crate::helpers::*;
use lms_platform::ApiError;
use lms_proto::common::v1::{LeadChannel, LeadPriority, LeadStatus};
use lms_proto::lead::v1 as pb;
use serde_json::json;
use tonic::Code;

#[tokio::test]
async fn a_submission_is_validated_normalised_scored_and_assigned() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        app.create_product("LOAN", &loan(30)).await;
        let pkg = app.render("LOAN").await;
        let res = app.submit_with(&pkg, &asha(), None).await.unwrap();
        assert_eq!(res.outcome, pb::SubmissionOutcome::Created as i32);
        let lead = res.lead.unwrap();
        // 20 (Google) + 30 (7 visits >= 5) + 25 (India) = 75 -> band 70 = URGENT.
        assert_eq!(lead.score, 75, "{backend:?}");
        assert_eq!(lead.priority, LeadPriority::Urgent as i32);
        let b = lead.score_breakdown.clone().unwrap();
        assert_eq!(b.raw_score, 75);
        let items: Vec<(&str, &str, i32, &str)> = b
            .items
            .iter()
            .map(|i| {
                (
                    i.rule_id.as_str(),
                    i.field.as_str(),
                    i.points,
                    i.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(
            items,
            vec![
                ("src", "leadSource", 20, "paid search"),
                ("visits", "totalVisits", 30, "engaged"),
                ("home", "country", 25, "home market"),
            ]
        );
        assert_eq!(
            to_json(lead.form_data.as_ref()),
            json!({
                "fullName": "Asha Rao",
                "email": "asha.rao@example.com",
                "phone": "+919876543210",
                "totalVisits": 7,
                "leadSource": "Google",
                "country": "India"
            })
        );
        assert_eq!(lead.status, LeadStatus::New as i32);
        assert_eq!(lead.version, 1);
        assert_eq!(lead.config_hash, pkg.config_hash);
        assert_eq!(lead.scoring_version, 1);
        assert_eq!(lead.lead_channel, LeadChannel::Form as i32);
        assert_eq!(lead.assignee, app.agent1.id);
        let year = chrono::Datelike::year(&lms_platform::Clock::now(&app.clock));
        assert_eq!(lead.lead_uid, format!("L-{year}-000001"));
        assert_eq!(lead.create_time, lead.update_time);

        // Round robin over the two agents, numbers counting up.
        let second = app.submit("LOAN", &person("b@example.com")).await;
        let third = app.submit("LOAN", &person("c@example.com")).await;
        assert_eq!(second.assignee, app.agent2.id);
        assert_eq!(third.assignee, app.agent1.id);
        assert_eq!(second.lead_uid, format!("L-{year}-000002"));
        // No rule matched: score 0, default priority LOW, empty breakdown.
        assert_eq!(
            (second.score, second.priority),
            (0, LeadPriority::Low as i32)
        );
        assert!(second.score_breakdown.unwrap().items.is_empty());

        // Readable by id and by lead_uid, equal to the answer.
        for id in [&lead.id, &lead.lead_uid] {
            assert_eq!(app.read_lead(&app.admin, id).await, lead);
        }
        assert_eq!(app.count("lead_events").await, 3);
        assert_eq!(app.count("form_nonces").await, 3);

        // With no enabled agent a lead stays unassigned.
        for agent in [&app.agent1, &app.agent2] {
            app.users_admin()
                .update_user(lms_proto::uam::v1::UpdateUserRequest {
                    user: Some(lms_proto::uam::v1::User {
                        id: agent.id.clone(),
                        enabled: false,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["enabled".into()],
                    }),
                })
                .await
                .unwrap();
        }
        let lonely = app.submit("LOAN", &person("d@example.com")).await;
        assert_eq!(lonely.assignee, "");
        assert_eq!(lonely.lead_uid, format!("L-{year}-000004"));
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        app.create_product("LOAN", &loan(30)).await;
        let mut other_content = loan(30);
        other_content["name"] = json!("Other loan");
        app.create_product("OTHER", &other_content).await;
        let mut captcha = loan(30);
        captcha["settings"] = json!({"captchaMode": "TURNSTILE", "captchaSiteKey": "site-key"});
        app.create_product("CAPTCHA", &captcha).await;
        let pkg = app.render("LOAN").await;
        let other = app.render("OTHER").await;
        let public = app.public();
        let send = |req: pb::SubmitLeadRequest| {
            let mut c = public.clone();
            async move {
                let sig = req.signature.clone();
                c.submit_lead(req).await.map(|_| sig).unwrap_err()
            }
        };

        // Unsigned.
        let mut r = request(&pkg, &asha(), None);
        r.signature.clear();
        assert_err(
            &send(r).await,
            Code::Unauthenticated,
            "INVALID_FORM_SIGNATURE",
        );
        // Tampered: one character of the MAC changed.
        let mut r = request(&pkg, &asha(), None);
        let mid = r.signature.len() - 10;
        let c = r.signature.as_bytes()[mid];
        let swapped = if c == b'A' { "B" } else { "A" };
        r.signature.replace_range(mid..=mid, swapped);
        let tampered = send(r).await;
        assert_err(&tampered, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
        assert_eq!(fields(&tampered), vec!["signature"]);
        // Another product's token, with this product's code and hash.
        let mut r = request(&pkg, &asha(), None);
        r.signature = other.signature.clone();
        let foreign = send(r).await;
        assert_err(&foreign, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
        // One generic message: no detail of which part failed.
        assert_eq!(tampered.message(), foreign.message());
        // A config hash that matches no version.
        let mut r = request(&pkg, &asha(), None);
        r.config_hash = "ab".repeat(32);
        let e = send(r).await;
        assert_err(&e, Code::InvalidArgument, "CONFIG_HASH_UNKNOWN");
        assert_eq!(fields(&e), vec!["configHash"]);
        // Another product's hash is not this product's either.
        assert_ne!(other.config_hash, pkg.config_hash);
        let mut r = request(&pkg, &asha(), None);
        r.config_hash = other.config_hash.clone();
        assert_err(&send(r).await, Code::InvalidArgument, "CONFIG_HASH_UNKNOWN");
        // A product that does not exist is named as such.
        let mut r = request(&pkg, &asha(), None);
        r.product_code = "NO_SUCH_PRODUCT".into();
        let e = send(r).await;
        assert_err(&e, Code::NotFound, "PRODUCT_NOT_FOUND");
        assert_eq!(fields(&e), vec!["productCode"]);
        // Unknown field (even though the schema allows additional properties).
        let mut form = asha();
        form["nickname"] = json!("A");
        let e = send(request(&pkg, &form, None)).await;
        assert_err(&e, Code::InvalidArgument, "FORM_INVALID");
        assert_eq!(fields(&e), vec!["formData.nickname"]);
        // Wrong type.
        let mut form = asha();
        form["totalVisits"] = json!("many");
        let e = send(request(&pkg, &form, None)).await;
        assert_err(&e, Code::InvalidArgument, "FORM_INVALID");
        assert_eq!(fields(&e), vec!["formData.totalVisits"]);
        // Every violation listed, nested paths included.
        let form = json!({"fullName": "X", "leadSource": "Bing", "address": {"city": "Y"},
                          "phone": "12345"});
        let e = send(request(&pkg, &form, None)).await;
        assert_eq!(
            fields(&e),
            vec![
                "formData.address.city",
                "formData.email",
                "formData.leadSource",
                "formData.phone"
            ]
        );
        // Header injection in an e-mail.
        let mut form = asha();
        form["email"] = json!("a@b.c\r\nBcc: x@evil.com");
        let e = send(request(&pkg, &form, None)).await;
        assert_eq!(fields(&e), vec!["formData.email"]);
        // Oversized form (> 64 KiB encoded): 413 via the error table.
        let mut form = asha();
        for i in 0..8 {
            form[format!("pad{i}")] = json!("x".repeat(9_000));
        }
        let e = send(request(&pkg, &form, None)).await;
        assert_err(&e, Code::InvalidArgument, "PAYLOAD_TOO_LARGE");
        assert_eq!(ApiError::from_status(&e).http_status(), 413);
        // A string over 10,000 characters.
        let mut form = asha();
        form["notes"] = json!("y".repeat(10_001));
        let e = send(request(&pkg, &form, None)).await;
        assert_err(&e, Code::InvalidArgument, "FORM_INVALID");
        assert_eq!(fields(&e), vec!["formData.notes"]);
        // More than 200 fields.
        let mut form = asha();
        for i in 0..200 {
            form[format!("f{i}")] = json!(1);
        }
        let e = send(request(&pkg, &form, None)).await;
        assert_eq!(fields(&e), vec!["formData"]);
        // An unknown channel number.
        let mut r = request(&pkg, &asha(), None);
        r.lead_channel = 99;
        let e = send(r).await;
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(fields(&e), vec!["leadChannel"]);
        // An idempotency key over 255 characters.
        let e = send(request(&pkg, &asha(), Some(&"k".repeat(256)))).await;
        assert_eq!(fields(&e), vec!["idempotencyKey"]);
        // A captcha mode that cannot be verified yet: fail closed.
        let cpkg = app.render("CAPTCHA").await;
        let e = send(request(&cpkg, &asha(), None)).await;
        assert_err(&e, Code::FailedPrecondition, "CAPTCHA_UNSUPPORTED");

        assert_eq!(app.total().await, 0, "{backend:?}");
        assert_eq!(app.count("lead_events").await, 0);
        assert_eq!(app.count("form_nonces").await, 0);
        assert_eq!(app.count("idempotency_keys").await, 0);

        // The token rejected above with form errors still works once the form is fixed...
        let ok = app.submit_with(&pkg, &asha(), None).await.unwrap();
        assert_eq!(ok.lead.unwrap().score, 75);
        // ...once: a used token is refused.
        let again = app
            .submit_with(&pkg, &person("z@example.com"), None)
            .await
            .unwrap_err();
        assert_err(&again, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
        assert_eq!(app.total().await, 1);
    }
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        app.create_product("LOAN", &loan(30)).await;
        let pkg = app.render("LOAN").await;
        app.clock.advance(chrono::Duration::hours(3));
        let e = app.submit_with(&pkg, &asha(), None).await.unwrap_err();
        assert_err(&e, Code::Unauthenticated, "FORM_SIGNATURE_EXPIRED");
        assert_eq!(app.total().await, 0);
        assert_eq!(app.count("form_nonces").await, 0);
    }
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_answer() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        app.create_product("LOAN", &loan(30)).await;
        app.create_product("OTHER", &loan(30)).await;
        let pkg = app.render("LOAN").await;
        let first = app.submit_with(&pkg, &asha(), Some("key-1")).await.unwrap();
        let replay = app.submit_with(&pkg, &asha(), Some("key-1")).await.unwrap();
        assert_eq!(replay, first);
        assert_eq!(app.total().await, 1);
        // Same key, another body: 422.
        let mut changed = asha();
        changed["totalVisits"] = json!(8);
        let e = app
            .submit_with(&pkg, &changed, Some("key-1"))
            .await
            .unwrap_err();
        assert_err(&e, Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED");
        assert_eq!(ApiError::from_status(&e).http_status(), 422);
        // Keys are scoped to the product.
        let opkg = app.render("OTHER").await;
        let other = app
            .submit_with(&opkg, &asha(), Some("key-1"))
            .await
            .unwrap();
        assert_ne!(other.lead.unwrap().id, first.lead.clone().unwrap().id);
        // The key may come in the `idempotency-key` header (the gateway forwards it).
        let hpkg = app.render("LOAN").await;
        let mut req = tonic::Request::new(request(&hpkg, &person("h@example.com"), None));
        req.metadata_mut()
            .insert("idempotency-key", "header-key".parse().unwrap());
        let h1 = app.public().submit_lead(req).await.unwrap().into_inner();
        let mut req = tonic::Request::new(request(&hpkg, &person("h@example.com"), None));
        req.metadata_mut()
            .insert("idempotency-key", "header-key".parse().unwrap());
        let h2 = app.public().submit_lead(req).await.unwrap().into_inner();
        assert_eq!(h1, h2);
        // Two concurrent twins: one lead, both get its answer.
        let cpkg = app.render("LOAN").await;
        let form = person("twin@example.com");
        let (a, b) = tokio::join!(
            app.submit_with(&cpkg, &form, Some("twin")),
            app.submit_with(&cpkg, &form, Some("twin"))
        );
        assert_eq!(a.unwrap().lead.unwrap().id, b.unwrap().lead.unwrap().id);
        assert_eq!(app.total().await, 4, "{backend:?}");
    }
}

#[tokio::test]
async fn an_older_signed_version_is_scored_with_its_own_rules() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let v1 = app.create_product("LOAN", &loan(30)).await;
        let old = app.render("LOAN").await;
        let v2 = app.update_product("LOAN", &loan(10)).await;
        assert_eq!((v1.version, v2.version), (1, 2));
        let new = app.render("LOAN").await;
        assert_eq!(new.version, 2);

        let a = app
            .submit_with(&old, &asha(), None)
            .await
            .unwrap()
            .lead
            .unwrap();
        assert_eq!((a.score, a.scoring_version), (75, 1));
        assert_eq!(a.config_hash, v1.config_hash);
        // 20 + 10 + 25 = 55 -> HIGH under version 2.
        let b = app
            .submit_with(&new, &asha(), None)
            .await
            .unwrap()
            .lead
            .unwrap();
        assert_eq!((b.score, b.scoring_version), (55, 2));
        assert_eq!(b.priority, LeadPriority::High as i32);
        assert_eq!(b.config_hash, v2.config_hash);
        // A version-1 token does not vouch for version 2's hash.
        let fresh_old = {
            let mut p = app.render("LOAN").await;
            p.config_hash = v1.config_hash.clone();
            p
        };
        let e = app
            .submit_with(&fresh_old, &asha(), None)
            .await
            .unwrap_err();
        assert_err(&e, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
    }
}

#[tokio::test]
async fn duplicate_policies_suppress_or_merge() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let mut suppress = loan(30);
        suppress["settings"] =
            json!({"duplicatePolicy": "SUPPRESS", "duplicateKeyFields": ["email"]});
        app.create_product("SUP", &suppress).await;
        let mut merge = loan(30);
        merge["settings"] = json!({"duplicatePolicy": "MERGE", "duplicateKeyFields": ["email"]});
        app.create_product("MRG", &merge).await;

        let first = app.submit("SUP", &person("Dup@Example.com")).await;
        let pkg = app.render("SUP").await;
        let again = app
            .submit_with(&pkg, &person("dup@example.com "), None)
            .await
            .unwrap();
        assert_eq!(
            again.outcome,
            pb::SubmissionOutcome::DuplicateSuppressed as i32
        );
        assert_eq!(again.lead.unwrap().id, first.id);
        // The token was used by the accepted (suppressed) submission.
        let e = app
            .submit_with(&pkg, &person("new@example.com"), None)
            .await
            .unwrap_err();
        assert_err(&e, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");

        let m1 = app.submit("MRG", &person("m@example.com")).await;
        assert_eq!(m1.score, 0);
        let mut more = person("m@example.com");
        more["leadSource"] = json!("Google");
        let pkg = app.render("MRG").await;
        let m2 = app.submit_with(&pkg, &more, None).await.unwrap();
        assert_eq!(m2.outcome, pb::SubmissionOutcome::Merged as i32);
        let merged = m2.lead.unwrap();
        assert_eq!(
            (merged.id.as_str(), merged.version, merged.score),
            (m1.id.as_str(), 2, 20)
        );
        let stored = app.read_lead(&app.admin, &m1.id).await;
        assert_eq!(
            to_json(stored.form_data.as_ref())["leadSource"],
            json!("Google")
        );
        assert_eq!(stored.priority, LeadPriority::Medium as i32);
        // SUP: 1 lead; MRG: 1 lead.
        assert_eq!(app.total().await, 2, "{backend:?}");
    }
}

#[tokio::test]
async fn concurrent_twins_make_one_lead_under_merge_and_suppress() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        for (code, policy, outcome) in [
            (
                "TWIN_SUP",
                "SUPPRESS",
                pb::SubmissionOutcome::DuplicateSuppressed,
            ),
            ("TWIN_MRG", "MERGE", pb::SubmissionOutcome::Merged),
        ] {
            let mut content = loan(30);
            content["settings"] =
                json!({"duplicatePolicy": policy, "duplicateKeyFields": ["email"]});
            app.create_product(code, &content).await;
            const TWINS: usize = 12;
            let mut pkgs = Vec::new();
            for _ in 0..TWINS {
                pkgs.push(app.render(code).await);
            }
            // Every twin has its token in hand; they all go at once.
            let mut set = tokio::task::JoinSet::new();
            for (i, pkg) in pkgs.into_iter().enumerate() {
                let mut client = app.public();
                let mut form = person("twin@example.com");
                form["leadSource"] = json!(if i % 2 == 0 {
                    "Google"
                } else {
                    "Direct Traffic"
                });
                set.spawn(async move {
                    client
                        .submit_lead(request(&pkg, &form, None))
                        .await
                        .map(tonic::Response::into_inner)
                });
            }
            let mut created = Vec::new();
            let mut others = 0;
            while let Some(done) = set.join_next().await {
                let r = done
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{backend:?} {policy}: {e:?}"));
                if r.outcome == pb::SubmissionOutcome::Created as i32 {
                    created.push(r.lead.unwrap().id);
                } else {
                    assert_eq!(r.outcome, outcome as i32, "{backend:?} {policy}");
                    others += 1;
                }
            }
            assert_eq!(
                created.len(),
                1,
                "{backend:?} {policy}: one lead, not {created:?}"
            );
            assert_eq!(others, TWINS - 1);
            let leads: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM leads WHERE product_code = $1")
                    .bind(code)
                    .fetch_one(&app.lead_db.pool)
                    .await
                    .unwrap();
            assert_eq!(leads, 1, "{backend:?} {policy}");
            if policy == "MERGE" {
                // Every merge landed on the one lead, one version each.
                let version: i64 =
                    sqlx::query_scalar("SELECT version FROM leads WHERE product_code = $1")
                        .bind(code)
                        .fetch_one(&app.lead_db.pool)
                        .await
                        .unwrap();
                assert_eq!(version, TWINS as i64, "{backend:?}");
            }
        }
        // Every twin's token was consumed exactly once.
        assert_eq!(app.count("form_nonces").await, 24, "{backend:?}");
    }
}

/// A product's allowed origins restrict which pages may submit its form: a browser's
/// `Origin` outside the list is refused before anything else is checked or written; a
/// server-side submission (no `Origin`) is not restricted.
#[tokio::test]
async fn submissions_honour_the_products_allowed_origins() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let mut content = loan(30);
        content["settings"] = json!({"allowedOrigins": ["https://shop.example"]});
        app.create_product("SHOP", &content).await;
        let send = |origin: Option<&'static str>, email: &'static str| {
            let (app, public) = (&app, app.public());
            async move {
                let pkg = app.render("SHOP").await;
                let mut req = tonic::Request::new(request(&pkg, &person(email), None));
                if let Some(o) = origin {
                    req.metadata_mut().insert("origin", o.parse().unwrap());
                }
                public.clone().submit_lead(req).await
            }
        };
        let e = send(Some("https://evil.example"), "e@example.com")
            .await
            .unwrap_err();
        assert_err(&e, Code::PermissionDenied, "ORIGIN_NOT_ALLOWED");
        assert_eq!(app.count("leads").await, 0, "{backend:?}");
        assert!(
            send(Some("https://shop.example"), "s@example.com")
                .await
                .is_ok()
        );
        assert!(send(None, "n@example.com").await.is_ok());
        assert_eq!(app.count("leads").await, 2, "{backend:?}");
    }
}

/// One wave of concurrent submissions `(token index, e-mail, idempotency key)`. The
/// writers are held back (PostgreSQL: a lock on `form_nonces`; SQLite: another
/// connection holding the write lock) until every submission has had time to queue, so
/// batches of several form whatever the scheduling.
async fn wave(
    app: &App,
    pkgs: &[lms_proto::config::v1::GetRenderPackageResponse],
    plan: Vec<(usize, String, Option<String>)>,
) -> Vec<(usize, String, Result<pb::SubmitLeadResponse, tonic::Status>)> {
    let mut blocker = app.lead_db.begin_write().await.unwrap();
    if app.lead_db.backend == lms_platform::db::Backend::Postgres {
        sqlx::query("LOCK TABLE form_nonces IN EXCLUSIVE MODE")
            .execute(&mut *blocker)
            .await
            .unwrap();
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, email, key) in plan {
        let mut client = app.public();
        let req = request(&pkgs[i], &person(&email), key.as_deref());
        set.spawn(async move {
            let answer = client
                .submit_lead(req)
                .await
                .map(tonic::Response::into_inner);
            (i, email, answer)
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    blocker.rollback().await.unwrap();
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.unwrap());
    }
    out
}

/// Checks that an answer is the caller's own lead, as stored.
async fn assert_own_lead(app: &App, email: &str, r: &pb::SubmitLeadResponse) -> String {
    let lead = r.lead.as_ref().unwrap();
    assert_eq!(to_json(lead.form_data.as_ref())["email"], json!(email));
    let stored = app.read_lead(&app.admin, &lead.id).await;
    assert_eq!(&stored, lead);
    lead.id.clone()
}

/// Submissions arriving together are written in batches (group commit). A second use of
/// a token or idempotency key in one batch is written after it, alone; a batch holding a
/// token stored earlier is refused whole and split until the reuse stands alone. Every
/// caller gets the answer it would have had alone: no lead is lost, doubled or given to
/// the wrong caller, and idempotent twins replay one answer.
#[tokio::test]
async fn concurrent_submissions_batched_each_get_their_own_answer() {
    for backend in lms_testkit::backends() {
        let app = App::spawn_with(backend, |c| {
            c.write_batch_max = 16;
            c.write_batch_writers = 2;
            // Lead numbers and assignment slots for every wave are reserved by the first
            // lead, so no submission of a wave waits on the lock for a number.
            c.counter_block = 500;
        })
        .await;
        app.create_product("LOAN", &loan(30)).await;
        app.submit("LOAN", &person("first@example.com")).await;
        const TOKENS: usize = 60;
        const LATER: usize = 10;
        let mut pkgs = Vec::new();
        for _ in 0..TOKENS + LATER {
            pkgs.push(app.render("LOAN").await);
        }
        // Wave 1: every token once; tokens 0..10 once more with another form (a reuse
        // in the same wave), tokens 50..60 twice with the same idempotency key and form.
        let mut plan: Vec<(usize, String, Option<String>)> = (0..TOKENS)
            .map(|i| (i, format!("p{i}@example.com"), None))
            .collect();
        for (i, _, key) in plan.iter_mut().skip(50) {
            *key = Some(format!("key-{i}"));
        }
        plan.extend((0..10).map(|i| (i, format!("replay{i}@example.com"), None)));
        plan.extend(
            (50..TOKENS).map(|i| (i, format!("p{i}@example.com"), Some(format!("key-{i}")))),
        );
        let mut by_token: std::collections::HashMap<usize, Vec<_>> = Default::default();
        for (i, email, answer) in wave(&app, &pkgs, plan).await {
            by_token.entry(i).or_default().push((email, answer));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, answers) in &by_token {
            let ok: Vec<_> = answers
                .iter()
                .filter_map(|(email, a)| a.as_ref().ok().map(|r| (email, r)))
                .collect();
            if *i < 10 {
                // The reused token: one of the two got the lead, the other a refusal.
                assert_eq!(ok.len(), 1, "{backend:?} token {i}: {answers:?}");
                let refused = answers.iter().find_map(|(_, a)| a.as_ref().err()).unwrap();
                assert_err(refused, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
            } else if *i >= 50 {
                assert_eq!(ok.len(), 2, "{backend:?} token {i}: {answers:?}");
                assert_eq!(ok[0].1, ok[1].1, "{backend:?}: twins replay one answer");
            } else {
                assert_eq!(ok.len(), 1, "{backend:?} token {i}: {answers:?}");
            }
            for (email, r) in ok {
                ids.insert(assert_own_lead(&app, email, r).await);
            }
        }
        assert_eq!(ids.len(), TOKENS, "{backend:?}");
        // Wave 2: fresh tokens mixed with tokens stored in wave 1 (a replay of a used
        // token refuses any batch it lands in).
        let mut plan: Vec<(usize, String, Option<String>)> = (TOKENS..TOKENS + LATER)
            .map(|i| (i, format!("late{i}@example.com"), None))
            .collect();
        plan.extend((10..15).map(|i| (i, format!("again{i}@example.com"), None)));
        for (i, email, answer) in wave(&app, &pkgs, plan).await {
            if i >= TOKENS {
                let r = answer.unwrap_or_else(|e| panic!("{backend:?} token {i}: {e:?}"));
                ids.insert(assert_own_lead(&app, &email, &r).await);
            } else {
                let e = answer.expect_err("a used token is refused");
                assert_err(&e, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
            }
        }
        assert_eq!(ids.len(), TOKENS + LATER, "{backend:?}");
        let all = (TOKENS + LATER + 1) as i64;
        assert_eq!(app.total().await, all, "{backend:?}");
        assert_eq!(app.count("lead_events").await, all, "{backend:?}");
        assert_eq!(app.count("form_nonces").await, all, "{backend:?}");
        assert_eq!(app.count("idempotency_keys").await, 10, "{backend:?}");
        if backend == lms_testkit::Backend::Postgres {
            // The batches did form: some transaction wrote several leads.
            let most: i64 = sqlx::query_scalar(
                "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM lead_events GROUP BY tx_id) t",
            )
            .fetch_one(&app.lead_db.pool)
            .await
            .unwrap();
            assert!(
                most >= 4,
                "{backend:?}: at most {most} leads per transaction"
            );
        }
    }
}
