//! The public render package: content, privacy, freshness.

use crate::helpers::*;
use lms_proto::config::v1 as pb;
use prost::Message;
use serde_json::json;
use tonic::Code;

/// A product whose private parts carry markers that must never reach the public.
fn private_content() -> serde_json::Value {
    let mut c = content();
    set(
        &mut c,
        "scoringRules",
        json!({
            "rules": [{"id": "SECRET_RULE_ID", "field": "city", "operator": "MATCHES",
                       "value": "SECRET_PATTERN", "points": 42, "reason": "SECRET_REASON"}],
            "priorityBands": [{"minScore": 77, "priority": "URGENT"}],
            "defaultPriority": "MEDIUM"
        }),
    );
    set(
        &mut c,
        "settings",
        json!({
            "captchaMode": "HCAPTCHA", "captchaSiteKey": "public-site-key",
            "allowedOrigins": ["https://secret-origin.example"],
            "duplicatePolicy": "MERGE", "duplicateKeyFields": ["age"],
            "duplicateWindowHours": 4321
        }),
    );
    set(&mut c, "styling", json!({"primaryColor": "#123456"}));
    c
}

#[tokio::test]
async fn render_package_is_public_complete_and_private_free() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let p = create(&app, "LOAN", &private_content()).await;
        let now = app.clock_now();
        let pkg = app
            .anonymous()
            .get_render_package(pb::GetRenderPackageRequest {
                product_code: "LOAN".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(pkg.product_code, "LOAN");
        assert_eq!(pkg.version, 1);
        assert_eq!(pkg.config_hash, p.config_hash);
        assert_eq!(
            to_json(pkg.form_schema.as_ref()),
            private_content()["formSchema"]
        );
        assert_eq!(
            to_json(pkg.styling.as_ref()),
            json!({"primaryColor": "#123456"})
        );
        let cities = &pkg.dictionaries["cities"].entries;
        assert_eq!(
            (cities[0].value.as_str(), cities[0].label.as_str()),
            ("HN", "Hà Nội")
        );
        assert_eq!(
            pkg.captcha,
            Some(pb::CaptchaConfig {
                enabled: true,
                mode: pb::CaptchaMode::Hcaptcha as i32,
                site_key: "public-site-key".into(),
            })
        );
        assert!(pkg.signature.starts_with("v1."), "{}", pkg.signature);
        assert_eq!(
            pkg.signature_expire_time.unwrap().seconds,
            now.timestamp() + 7200
        );

        // Nothing private, anywhere in the bytes on the wire.
        let wire = pkg.encode_to_vec();
        let text = String::from_utf8_lossy(&wire);
        for secret in [
            "SECRET_RULE_ID",
            "SECRET_PATTERN",
            "SECRET_REASON",
            "secret-origin",
        ] {
            assert!(!text.contains(secret), "render package leaks {secret}");
        }
        assert!(!format!("{pkg:?}").contains("SECRET"));

        // The token vouches for exactly this version.
        let v = app
            .service()
            .verify_form_token(pb::VerifyFormTokenRequest {
                signature: pkg.signature.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(v.product_code, "LOAN");
        assert_eq!(v.version, 1);
        assert_eq!(v.config_hash, p.config_hash);
        assert_eq!(v.issue_time.unwrap().seconds, now.timestamp());
        assert_eq!(v.expire_time, pkg.signature_expire_time);

        // Every package carries a fresh nonce.
        let again = app
            .anonymous()
            .get_render_package(pb::GetRenderPackageRequest {
                product_code: "LOAN".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_ne!(again.signature, pkg.signature);
        let v2 = app
            .service()
            .verify_form_token(pb::VerifyFormTokenRequest {
                signature: again.signature,
            })
            .await
            .unwrap()
            .into_inner();
        assert_ne!(v2.nonce, v.nonce);
        assert_eq!(v2.nonce.len(), 22); // base64url of 16 bytes

        let err = app
            .anonymous()
            .get_render_package(pb::GetRenderPackageRequest {
                product_code: "NOPE".into(),
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::NotFound, "PRODUCT_NOT_FOUND");
    }
}

#[tokio::test]
async fn an_update_shows_at_once_and_captcha_none_is_disabled() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        create(&app, "LOAN", &content()).await;
        let get = || {
            let mut c = app.anonymous();
            async move {
                c.get_render_package(pb::GetRenderPackageRequest {
                    product_code: "LOAN".into(),
                })
                .await
                .unwrap()
                .into_inner()
            }
        };
        let first = get().await;
        assert_eq!(
            first.captcha,
            Some(pb::CaptchaConfig {
                enabled: false,
                mode: pb::CaptchaMode::None as i32,
                site_key: String::new(),
            })
        );
        assert_eq!(first.config_hash, CONTENT_HASH);
        let mut c = content();
        set(&mut c, "name", json!("v2"));
        let updated = app
            .admin()
            .update_product(pb::UpdateProductRequest {
                product: Some(product("LOAN", &c)),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        let second = get().await;
        assert_eq!(second.version, 2);
        assert_eq!(second.config_hash, updated.config_hash);
        // A second instance over the same database sees it too.
        let other = App::spawn_with(
            backend,
            Opts {
                db: Some(app.db()),
                ..Opts::default()
            },
        )
        .await;
        let seen = other
            .anonymous()
            .get_render_package(pb::GetRenderPackageRequest {
                product_code: "LOAN".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(seen.version, 2);
    }
}

/// A product's allowed origins restrict which pages may fetch its form: a browser's
/// `Origin` outside the list is refused; a server-side fetch (no `Origin`) is not.
#[tokio::test]
async fn render_package_honours_the_products_allowed_origins() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        create(&app, "LOAN", &private_content()).await;
        let fetch = |origin: Option<&'static str>| {
            let mut c = app.anonymous();
            async move {
                let mut req = tonic::Request::new(pb::GetRenderPackageRequest {
                    product_code: "LOAN".into(),
                });
                if let Some(o) = origin {
                    req.metadata_mut().insert("origin", o.parse().unwrap());
                }
                c.get_render_package(req).await
            }
        };
        let e = fetch(Some("https://evil.example")).await.unwrap_err();
        assert_eq!(
            (e.code(), reason(&e).as_str()),
            (Code::PermissionDenied, "ORIGIN_NOT_ALLOWED"),
            "{backend:?}"
        );
        assert!(fetch(Some("https://secret-origin.example")).await.is_ok());
        assert!(fetch(None).await.is_ok());
    }
}
