//! Form tokens are verified by lead itself with keys fetched from config: rotation (a
//! token naming an unknown key id makes lead fetch the keys again), removal of a key,
//! rate-limited refetches, and failing closed when config is away.

use crate::helpers::*;
use lms_config::config::SigningKeyConfig;
use lms_formtoken::{FormKeys, SigningKey};
use lms_platform::Clock;
use lms_proto::config::v1 as cfg;
use std::path::Path;
use tonic::Code;

/// A config configuration with these `(kid, key byte)` keys, written under `dir`; the
/// first signs.
fn config_with(dir: &Path, keys: &[(&str, u8)]) -> lms_config::Config {
    lms_config::Config {
        form_signing_keys: keys
            .iter()
            .map(|(kid, b)| {
                let file = dir.join(format!("{kid}.key"));
                std::fs::write(&file, [*b; 32]).unwrap();
                SigningKeyConfig {
                    kid: (*kid).to_string(),
                    key_file: file,
                }
            })
            .collect(),
        ..lms_config::Config::default()
    }
}

/// A package for `pkg`'s product signed by a key config does not have (yet).
fn forged(
    app: &App,
    pkg: &cfg::GetRenderPackageResponse,
    kid: &str,
    b: u8,
) -> cfg::GetRenderPackageResponse {
    let ring = FormKeys::new(vec![SigningKey::new(kid, [b; 32]).unwrap()]).unwrap();
    let claims = FormKeys::claims(
        &pkg.product_code,
        pkg.version,
        &pkg.config_hash,
        app.clock.now(),
        [kid.len() as u8; 16],
    );
    cfg::GetRenderPackageResponse {
        signature: ring.sign(&claims),
        ..pkg.clone()
    }
}

fn kid(pkg: &cfg::GetRenderPackageResponse) -> &str {
    pkg.signature.split('.').nth(1).unwrap()
}

#[tokio::test]
async fn rotated_keys_are_fetched_on_an_unknown_kid_and_config_outages_fail_closed() {
    for backend in lms_testkit::backends() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = App::spawn_full(backend, &config_with(dir.path(), &[("k1", 1)]), |c| {
            c.form_keys_refetch_ms = 0;
            c.form_keys_max_age_secs = 3_600;
        })
        .await;
        app.create_product("LOAN", &loan(30)).await;
        let first = app.render("LOAN").await;
        let old = app.render("LOAN").await;
        assert_eq!((kid(&first), kid(&old)), ("k1", "k1"));
        app.submit_with(&first, &person("a@example.com"), None)
            .await
            .unwrap();

        // config restarts with a new signing key; the old one still verifies.
        app.start_config(&config_with(dir.path(), &[("k2", 2), ("k1", 1)]))
            .await;
        let new = app.render("LOAN").await;
        assert_eq!(kid(&new), "k2");
        let lead = app
            .submit_with(&new, &person("b@example.com"), None)
            .await
            .unwrap()
            .lead
            .unwrap();
        assert_eq!(lead.config_hash, new.config_hash);
        app.submit_with(&old, &person("c@example.com"), None)
            .await
            .unwrap();
        // A key config never had stays refused after the refetch.
        let ghost = forged(&app, &new, "ghost", 9);
        let e = app
            .submit_with(&ghost, &person("d@example.com"), None)
            .await
            .unwrap_err();
        assert_err(&e, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");

        // config goes away: tokens of known keys still verify (no call per submission;
        // the product version is cached too), an unknown key id fails closed.
        let known = app.render("LOAN").await;
        app.stop_config().await;
        app.submit_with(&known, &person("e@example.com"), None)
            .await
            .unwrap();
        let k3 = forged(&app, &new, "k3", 3);
        let e = app
            .submit_with(&k3, &person("f@example.com"), None)
            .await
            .unwrap_err();
        assert_err(&e, Code::Unavailable, "UNAVAILABLE");

        // Back with k3: the same token now verifies.
        app.start_config(&config_with(dir.path(), &[("k3", 3), ("k2", 2)]))
            .await;
        app.submit_with(&k3, &person("f@example.com"), None)
            .await
            .unwrap();
        assert_eq!(app.total().await, 5, "{backend:?}");
    }
}

#[tokio::test]
async fn dropped_keys_stop_verifying_and_refetches_are_rate_limited() {
    for backend in lms_testkit::backends() {
        let dir = tempfile::tempdir().unwrap();
        // Keys always stale (refreshed on every use) but refetched at most once a minute.
        let mut app = App::spawn_full(backend, &config_with(dir.path(), &[("k1", 1)]), |c| {
            c.form_keys_refetch_ms = 60_000;
            c.form_keys_max_age_secs = 0;
        })
        .await;
        app.create_product("LOAN", &loan(30)).await;
        let first = app.render("LOAN").await;
        let old = app.render("LOAN").await;
        app.submit_with(&first, &person("a@example.com"), None)
            .await
            .unwrap();

        // Rotation within the minute: the new key id is not fetched yet, so refused.
        app.start_config(&config_with(dir.path(), &[("k2", 2)]))
            .await;
        let new = app.render("LOAN").await;
        assert_eq!(kid(&new), "k2");
        let e = app
            .submit_with(&new, &person("b@example.com"), None)
            .await
            .unwrap_err();
        assert_err(&e, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
        // The old key still verifies with the keys held.
        app.submit_with(&old, &person("c@example.com"), None)
            .await
            .unwrap();
        assert_eq!(app.total().await, 2, "{backend:?}");
    }

    for backend in lms_testkit::backends() {
        let dir = tempfile::tempdir().unwrap();
        // Stale on every use and no rate limit: a key config dropped stops verifying.
        let mut app = App::spawn_full(backend, &config_with(dir.path(), &[("k1", 1)]), |c| {
            c.form_keys_refetch_ms = 0;
            c.form_keys_max_age_secs = 0;
        })
        .await;
        app.create_product("LOAN", &loan(30)).await;
        let first = app.render("LOAN").await;
        let old = app.render("LOAN").await;
        app.submit_with(&first, &person("a@example.com"), None)
            .await
            .unwrap();
        app.start_config(&config_with(dir.path(), &[("k2", 2)]))
            .await;
        let e = app
            .submit_with(&old, &person("b@example.com"), None)
            .await
            .unwrap_err();
        assert_err(&e, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
        let new = app.render("LOAN").await;
        app.submit_with(&new, &person("c@example.com"), None)
            .await
            .unwrap();
        // With config away the keys held go on verifying.
        let later = app.render("LOAN").await;
        app.stop_config().await;
        app.submit_with(&later, &person("d@example.com"), None)
            .await
            .unwrap();
        assert_eq!(app.total().await, 3, "{backend:?}");
    }
}
