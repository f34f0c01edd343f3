//! Signed form tokens through VerifyFormToken (security.md case 13).

use crate::helpers::*;
use lms_config::config::SigningKeyConfig;
use lms_proto::config::v1 as pb;
use tonic::Code;

async fn token_of(app: &App, code: &str) -> String {
    app.anonymous()
        .get_render_package(pb::GetRenderPackageRequest {
            product_code: code.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .signature
}

async fn verify(app: &App, token: &str) -> Result<pb::VerifyFormTokenResponse, tonic::Status> {
    app.service()
        .verify_form_token(pb::VerifyFormTokenRequest {
            signature: token.to_string(),
        })
        .await
        .map(|r| r.into_inner())
}

#[track_caller]
fn assert_invalid(r: Result<pb::VerifyFormTokenResponse, tonic::Status>, what: &str) {
    let err = r.expect_err(what);
    assert_status(&err, Code::Unauthenticated, "INVALID_FORM_SIGNATURE");
    // One generic message: nothing about which part failed.
    assert_eq!(err.message(), "the form signature is invalid", "{what}");
}

#[tokio::test]
async fn expiry_follows_the_injected_clock() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        create(&app, "LOAN", &content()).await;
        let t = token_of(&app, "LOAN").await;
        app.clock.advance(chrono::Duration::seconds(7_200));
        let ok = verify(&app, &t).await.unwrap();
        assert_eq!(ok.product_code, "LOAN");
        app.clock.advance(chrono::Duration::seconds(1));
        let err = verify(&app, &t).await.unwrap_err();
        assert_status(&err, Code::Unauthenticated, "FORM_SIGNATURE_EXPIRED");
    }
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let app = App::spawn(lms_testkit::Backend::Sqlite).await;
    create(&app, "LOAN", &content()).await;
    create(&app, "OTHER", &content()).await;
    let t = token_of(&app, "LOAN").await;
    let parts: Vec<&str> = t.split('.').collect();
    assert_eq!(parts.len(), 4);
    let (signed, tag) = t.rsplit_once('.').unwrap();

    // One bit flipped in each part.
    for at in [
        1,
        4,
        parts[0].len() + parts[1].len() + 5,
        t.len() - 10,
        t.len() - 1,
    ] {
        let mut b = t.clone().into_bytes();
        b[at] ^= 0x01;
        let s = String::from_utf8(b).unwrap();
        assert_invalid(verify(&app, &s).await, &format!("bit flip at {at}"));
    }
    // Another length, another case, other encodings of the MAC.
    let cases = [
        format!("{signed}.{}", &tag[..tag.len() - 2]),
        format!("{signed}.{tag}AA"),
        format!("{signed}.{}", tag.to_uppercase()),
        format!("{signed}.{}", tag.to_lowercase()),
        format!("{signed}.{tag}="),
        format!("{signed}.{}", hex::encode([0u8; 32])),
        format!("{t}.{tag}"),
        t.to_uppercase(),
    ];
    for c in &cases {
        if c != &t {
            assert_invalid(verify(&app, c).await, c);
        }
    }
    // The payload of another product under this token's MAC.
    let other = token_of(&app, "OTHER").await;
    let other_payload = other.split('.').nth(2).unwrap();
    let spliced = format!("{}.{}.{}.{}", parts[0], parts[1], other_payload, parts[3]);
    assert_invalid(verify(&app, &spliced).await, "spliced payload");
    // The untouched token still verifies.
    assert_eq!(verify(&app, &t).await.unwrap().product_code, "LOAN");
}

#[tokio::test]
async fn garbage_is_refused_without_panicking() {
    let app = App::spawn(lms_testkit::Backend::Sqlite).await;
    create(&app, "LOAN", &content()).await;
    let t = token_of(&app, "LOAN").await;
    let mut cases: Vec<String> = [
        "",
        ".",
        "...",
        "....",
        "v1",
        "v1.",
        "v1...",
        "v1.k.p.s",
        "v2.x.e30.AAAA",
        "Bearer x",
        "null",
        "{\"p\":\"LOAN\"}",
        "v1.\u{202e}.x.y",
        "v1.../../etc/passwd.x.y",
        "v1.' OR 1=1--.x.y",
        "sig=a&sig=b",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cases.push(t.replacen("v1.", "v1..", 1));
    cases.push(format!("{t}\n"));
    cases.push(format!(" {t}"));
    cases.push("A".repeat(1025));
    cases.push(format!("{t}{}", "A".repeat(10 * 1024)));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 120) as usize;
        let s: String = (0..len)
            .map(|i| {
                let c = (seed.rotate_left(i as u32 * 7) % 95) as u8 + 32;
                if c.is_multiple_of(11) { '.' } else { c as char }
            })
            .collect();
        cases.push(format!("v1.{s}"));
    }
    for c in &cases {
        assert_invalid(verify(&app, c).await, c);
    }
    // The service is still healthy afterwards.
    assert_eq!(verify(&app, &t).await.unwrap().product_code, "LOAN");
}

#[tokio::test]
async fn other_keys_and_future_issue_times() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        create(&app, "LOAN", &content()).await;
        // Another deployment (another generated key) over the same data.
        let stranger = App::spawn_with(
            backend,
            Opts {
                db: Some(app.db()),
                ..Opts::default()
            },
        )
        .await;
        let foreign = token_of(&stranger, "LOAN").await;
        assert_ne!(
            foreign.split('.').nth(1),
            token_of(&app, "LOAN").await.split('.').nth(1)
        );
        assert_invalid(verify(&app, &foreign).await, "other kid");

        // The same key on an instance whose clock runs ahead.
        for (offset, ok) in [(299, true), (301, false)] {
            let ahead = App::spawn_with(
                backend,
                Opts {
                    db: Some(app.db()),
                    data_dir: Some(app.data_dir.clone()),
                    clock_offset_secs: offset,
                    ..Opts::default()
                },
            )
            .await;
            let t = token_of(&ahead, "LOAN").await;
            let r = verify(&app, &t).await;
            if ok {
                assert_eq!(r.unwrap().product_code, "LOAN");
            } else {
                assert_invalid(r, "iat in the future");
            }
        }
    }
}

#[tokio::test]
async fn configured_keys_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let old_file = dir.path().join("old.key");
    let new_file = dir.path().join("new.key");
    std::fs::write(&old_file, [0x11u8; 32]).unwrap();
    std::fs::write(&new_file, hex::encode([0x22u8; 32])).unwrap();
    let key = |kid: &str, f: &std::path::Path| SigningKeyConfig {
        kid: kid.into(),
        key_file: f.to_path_buf(),
    };
    let before = App::spawn_with(
        lms_testkit::Backend::Sqlite,
        Opts {
            cfg: Some(lms_config::Config {
                form_signing_keys: vec![key("k-old", &old_file)],
                ..Default::default()
            }),
            ..Opts::default()
        },
    )
    .await;
    create(&before, "LOAN", &content()).await;
    let old_token = token_of(&before, "LOAN").await;
    assert!(old_token.starts_with("v1.k-old."));
    let after = App::spawn_with(
        lms_testkit::Backend::Sqlite,
        Opts {
            db: Some(before.db()),
            cfg: Some(lms_config::Config {
                form_signing_keys: vec![key("k-new", &new_file), key("k-old", &old_file)],
                ..Default::default()
            }),
            ..Opts::default()
        },
    )
    .await;
    let v = verify(&after, &old_token).await.unwrap();
    assert_eq!(v.kid, "k-old");
    let new_token = token_of(&after, "LOAN").await;
    assert!(new_token.starts_with("v1.k-new."));
    assert_eq!(verify(&after, &new_token).await.unwrap().kid, "k-new");
    // The old deployment does not know the new key.
    assert_invalid(verify(&before, &new_token).await, "unknown kid");
}

#[tokio::test]
async fn only_services_verify_and_keys_are_required_outside_embedded_mode() {
    let app = App::spawn(lms_testkit::Backend::Sqlite).await;
    create(&app, "LOAN", &content()).await;
    let t = token_of(&app, "LOAN").await;
    let err = app
        .anonymous()
        .verify_form_token(pb::VerifyFormTokenRequest { signature: t })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "UNAUTHENTICATED");

    let db = lms_testkit::TestDb::new(lms_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let conn = db.connect("config").await.unwrap();
    let mut rt = app.rt.clone();
    rt.embedded = false;
    rt.data_dir = tempfile::tempdir().unwrap().path().to_path_buf();
    let Err(err) = lms_config::build(&lms_config::Config::default(), conn, &rt).await else {
        panic!("must refuse to start without keys");
    };
    assert!(err.to_string().contains("form_signing_keys"), "{err}");
}

#[tokio::test]
async fn verification_keys_are_handed_to_mesh_services_only() {
    let dir = tempfile::tempdir().unwrap();
    let old_file = dir.path().join("old.key");
    let new_file = dir.path().join("new.key");
    std::fs::write(&old_file, [0x11u8; 32]).unwrap();
    std::fs::write(&new_file, hex::encode([0x22u8; 32])).unwrap();
    let key = |kid: &str, f: &std::path::Path| SigningKeyConfig {
        kid: kid.into(),
        key_file: f.to_path_buf(),
    };
    let app = App::spawn_with(
        lms_testkit::Backend::Sqlite,
        Opts {
            cfg: Some(lms_config::Config {
                form_signing_keys: vec![key("k-new", &new_file), key("k-old", &old_file)],
                form_token_ttl_secs: 900,
                ..Default::default()
            }),
            ..Opts::default()
        },
    )
    .await;
    create(&app, "LOAN", &content()).await;
    let req = || pb::GetFormVerificationKeysRequest {};

    // Users, even ADMIN, and anonymous callers never see the keys.
    for (who, r) in [
        ("admin", app.admin().get_form_verification_keys(req()).await),
        (
            "manager",
            app.manager().get_form_verification_keys(req()).await,
        ),
        ("agent", app.agent().get_form_verification_keys(req()).await),
    ] {
        let err = r.expect_err(who);
        assert_status(&err, Code::PermissionDenied, "PERMISSION_DENIED");
    }
    let err = app
        .anonymous()
        .get_form_verification_keys(req())
        .await
        .unwrap_err();
    assert_status(&err, Code::Unauthenticated, "UNAUTHENTICATED");

    // A mesh service gets every verifying key, the signing key first, and the lifetime.
    let got = app
        .service()
        .get_form_verification_keys(req())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.token_ttl_seconds, 900);
    let keys: Vec<(String, Vec<u8>)> = got.keys.into_iter().map(|k| (k.kid, k.key)).collect();
    assert_eq!(
        keys,
        vec![
            ("k-new".to_string(), vec![0x22u8; 32]),
            ("k-old".to_string(), vec![0x11u8; 32]),
        ]
    );

    // With them a token verifies locally exactly as VerifyFormToken says.
    let ring = lms_formtoken::FormKeys::new(
        keys.iter()
            .map(|(kid, k)| {
                lms_formtoken::SigningKey::new(kid, k.as_slice().try_into().unwrap()).unwrap()
            })
            .collect(),
    )
    .unwrap();
    let t = token_of(&app, "LOAN").await;
    let remote = verify(&app, &t).await.unwrap();
    let local = ring.verify(&t, app.clock_now(), 900).unwrap();
    assert_eq!(local.kid, "k-new");
    assert_eq!(local.claims.product_code, remote.product_code);
    assert_eq!(local.claims.version, remote.version);
    assert_eq!(local.claims.config_hash, remote.config_hash);
    assert_eq!(local.claims.nonce, remote.nonce);
    assert_eq!(
        local.expires_at.timestamp(),
        remote.expire_time.unwrap().seconds
    );
}
