//! config through the REST front: product JSON in and out, versions, conflicts, errors
//! named by field, and the public render package.

use crate::helpers::{ALLOWED_ORIGIN, Stack, assert_error, call, product_body};
use lms_platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn products_round_trip_version_and_render() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        let (_, admin) = s.signed_in("root", &[Role::Admin]).await;
        let (_, agent) = s.signed_in("alex", &[Role::Agent]).await;
        let input = product_body("LOAN_1");

        let (status, body) = call(
            s.authed(Method::POST, "/config/api/products", &agent)
                .json(&input),
        )
        .await;
        assert_error(status, &body, 403, "PERMISSION_DENIED", &[]);

        let p = s.product(&admin, "LOAN_1").await;
        assert_eq!(
            keys(&p),
            [
                "configHash",
                "createdAt",
                "dictionaries",
                "formSchema",
                "id",
                "name",
                "productCode",
                "scoringRules",
                "settings",
                "styling",
                "updatedAt",
                "version"
            ]
        );
        for k in [
            "productCode",
            "name",
            "formSchema",
            "dictionaries",
            "scoringRules",
            "styling",
        ] {
            assert_eq!(p[k], input[k], "{k}");
        }
        assert_eq!(p["settings"]["captchaMode"], "NONE");
        assert_eq!(p["settings"]["duplicatePolicy"], "ALLOW");
        assert_eq!(
            p["settings"]["allowedOrigins"],
            json!(["https://shop.example.com", ALLOWED_ORIGIN])
        );
        assert_eq!(p["version"], 1);
        let hash = p["configHash"].as_str().unwrap().to_string();
        assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));

        let (status, body) = call(
            s.authed(Method::POST, "/config/api/products", &admin)
                .json(&input),
        )
        .await;
        assert_error(status, &body, 409, "PRODUCT_EXISTS", &[]);

        let (status, list) = call(s.authed(Method::GET, "/config/api/products", &admin)).await;
        assert_eq!(status, 200);
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
        assert_eq!(list[0]["productCode"], "LOAN_1");

        let (status, got) =
            call(s.authed(Method::GET, "/config/api/products/LOAN_1/config", &admin)).await;
        assert_eq!(status, 200);
        assert_eq!(got, p);

        // PUT back what was got with one change: a new version.
        let mut changed = got.clone();
        changed["name"] = json!("Home loans 2");
        let (status, v2) = call(
            s.authed(Method::PUT, "/config/api/products/LOAN_1", &admin)
                .json(&changed),
        )
        .await;
        assert_eq!(status, 200, "{v2}");
        assert_eq!(v2["version"], 2);
        assert_eq!(v2["name"], "Home loans 2");
        assert_ne!(v2["configHash"], hash.as_str());
        // The same stale version again: a conflict.
        let (status, body) = call(
            s.authed(Method::PUT, "/config/api/products/LOAN_1", &admin)
                .json(&changed),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["status"], 409);
        let (status, body) = call(
            s.authed(Method::PUT, "/config/api/products/LOAN_1", &admin)
                .json(&json!({"productCode": "OTHER", "name": "x"})),
        )
        .await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["productCode"]);

        // The service's own checks come back with their field paths.
        let mut bad = product_body("LOAN_2");
        bad["scoringRules"]["rules"][1] = json!({"id": "r-re", "field": "email",
            "operator": "MATCHES", "value": "(unclosed", "points": 5, "reason": ""});
        let (status, body) = call(
            s.authed(Method::POST, "/config/api/products", &admin)
                .json(&bad),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        let fields: Vec<&str> = body["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["field"].as_str().unwrap())
            .collect();
        assert!(
            fields
                .iter()
                .any(|f| f.starts_with("scoringRules.rules[1]")),
            "{body}"
        );

        // The public render package: no token, no scoring rules.
        let pkg = s.render("LOAN_1").await;
        assert_eq!(
            keys(&pkg),
            [
                "captcha",
                "configHash",
                "dictionaries",
                "formSchema",
                "productCode",
                "signature",
                "signatureExpiresAt",
                "styling",
                "version"
            ]
        );
        assert_eq!(pkg["version"], 2);
        assert_eq!(pkg["configHash"], v2["configHash"]);
        assert_eq!(pkg["formSchema"], input["formSchema"]);
        assert_eq!(pkg["dictionaries"], input["dictionaries"]);
        assert_eq!(
            pkg["captcha"],
            json!({"enabled": false, "mode": "NONE", "siteKey": ""})
        );
        assert!(
            pkg["signature"]
                .as_str()
                .is_some_and(|s| s.starts_with("v1."))
        );
        assert!(pkg["signatureExpiresAt"].as_str().is_some());

        let (status, body) = call(s.req(
            Method::GET,
            "/config/api/products/NOPE/lead-form/render-package",
        ))
        .await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["status"], 404);
    }
}
