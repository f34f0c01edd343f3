//! The account flows of issue 2 section 3 over REST: TOTP enrolment and two-step login,
//! refresh rotation and reuse detection, password change revoking other sessions, and
//! (security.md case 4) a revoked session's access token refused by every service at
//! once, not only when it expires.

use crate::support::System;
use lms_testkit::Backend;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

fn totp(secret: &str) -> TOTP {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .expect("base32 secret");
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new())
}

fn code_at_step(t: &TOTP, step: u64) -> String {
    t.generate(step * 30)
}

fn now_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 30)
        .unwrap_or_default()
}

async fn refresh(sys: &System, token: &str) -> (u16, Value) {
    sys.post(
        &format!("/uam/api/auth/refresh?refreshToken={token}"),
        None,
        &json!({}),
    )
    .await
}

/// How long until `token` is refused (401) on `path`; panics after 3 s.
async fn refused_within(sys: &System, path: &str, token: &str) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let (st, body) = sys.get(path, Some(token)).await;
        if st == 401 {
            assert_eq!(body["reason"], "INVALID_TOKEN", "{body}");
            return started.elapsed();
        }
        assert_eq!(st, 200, "{path}: {body}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{path} still accepts a revoked session's token after 3 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn run(backend: Backend) {
    let sys = System::start(backend).await;
    let password = "a long enough agent passphrase";
    sys.create_user("agent1", "agent1@example.com", password, "AGENT");

    // Refresh rotation and reuse detection.
    let first = sys.login("agent1", password).await;
    assert_eq!(first["tokenType"], "Bearer");
    assert_eq!(first["mfaRequired"], false);
    let rt1 = first["refreshToken"].as_str().expect("rt1").to_string();
    let (st, body) = refresh(&sys, &rt1).await;
    assert_eq!(st, 200, "refresh: {body}");
    let rt2 = body["data"]["refreshToken"]
        .as_str()
        .expect("rt2")
        .to_string();
    assert_ne!(rt1, rt2, "refresh rotates");
    let (st, _) = refresh(&sys, &rt1).await;
    assert_eq!(st, 401, "a retired refresh token is refused");
    let (st, _) = refresh(&sys, &rt2).await;
    assert_eq!(st, 401, "reuse revoked the whole family");
    let (st, body) = sys
        .post(
            "/uam/api/auth/refresh",
            None,
            &json!({"refreshToken": "not-a-token"}),
        )
        .await;
    assert_eq!(st, 401, "{body}");
    assert!(body["requestId"].is_string());

    // Password change revokes the other sessions, not the caller's.
    let a = sys.login("agent1", password).await;
    let b = sys.login("agent1", password).await;
    let new_password = "an even longer agent passphrase";
    let (st, body) = sys
        .post(
            "/uam/api/auth/change-password",
            a["accessToken"].as_str(),
            &json!({"currentPassword": "wrong password entirely", "newPassword": new_password}),
        )
        .await;
    assert_eq!(st, 400, "wrong current password: {body}");
    let (st, body) = sys
        .post(
            "/uam/api/auth/change-password",
            a["accessToken"].as_str(),
            &json!({"currentPassword": password, "newPassword": new_password,
                    "refreshToken": a["refreshToken"]}),
        )
        .await;
    assert_eq!(st, 200, "change password: {body}");
    let (st, _) = refresh(&sys, b["refreshToken"].as_str().expect("b")).await;
    assert_eq!(st, 401, "the other session is revoked");
    // B's access token, still within its 15 minutes, is refused by every service.
    let b_access = b["accessToken"].as_str().expect("b access");
    let a_access = a["accessToken"].as_str().expect("a access");
    for path in [
        "/lead/api/leads",
        "/uam/api/users/me",
        "/config/api/products",
    ] {
        let waited = refused_within(&sys, path, b_access).await;
        assert!(
            waited < std::time::Duration::from_secs(1),
            "{path}: refused only after {waited:?}"
        );
    }
    let (st, _) = sys.get("/lead/api/leads", Some(a_access)).await;
    assert_eq!(st, 200, "the caller's access token still works");
    let (st, _) = refresh(&sys, a["refreshToken"].as_str().expect("a")).await;
    assert_eq!(st, 200, "the caller's session survives");
    let (st, _) = sys
        .post(
            "/uam/api/auth/login",
            None,
            &json!({"usernameOrEmail": "agent1", "password": password}),
        )
        .await;
    assert_eq!(st, 401, "the old password no longer works");

    // TOTP enrolment, then a two-step login; a code is usable once.
    let session = sys.login("agent1", new_password).await;
    let access = session["accessToken"].as_str().expect("access").to_string();
    let (st, setup) = sys
        .post("/uam/api/auth/totp/setup", Some(&access), &json!({}))
        .await;
    assert_eq!(st, 200, "setup: {setup}");
    assert!(
        setup["otpauthUri"]
            .as_str()
            .is_some_and(|u| u.starts_with("otpauth://totp/"))
    );
    let t = totp(setup["secret"].as_str().expect("secret"));
    let step = now_step();
    // Enrol with the previous step's code so the current step stays free for the login.
    let (st, body) = sys
        .post(
            "/uam/api/auth/totp/enable",
            Some(&access),
            &json!({"code": code_at_step(&t, step - 1)}),
        )
        .await;
    assert_eq!(st, 200, "enable: {body}");
    let (st, me) = sys.get("/uam/api/users/me", Some(&access)).await;
    assert_eq!(st, 200);
    assert_eq!(me["totpEnabled"], true);

    let (st, body) = sys
        .post(
            "/uam/api/auth/login",
            None,
            &json!({"usernameOrEmail": "agent1", "password": new_password}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(body["data"]["mfaRequired"], true);
    assert!(
        body["data"].get("accessToken").is_none_or(Value::is_null),
        "no tokens before the second step"
    );
    let mfa = body["data"]["mfaToken"]
        .as_str()
        .expect("mfa token")
        .to_string();
    let (st, me) = sys.get("/uam/api/users/me", Some(&mfa)).await;
    assert_eq!(st, 401, "the MFA token is not an access token: {me}");
    let code = code_at_step(&t, now_step());
    let (st, body) = sys
        .post(
            "/uam/api/auth/totp-login",
            Some(&mfa),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(st, 200, "totp login: {body}");
    assert!(body["data"]["accessToken"].is_string());

    // The same code again, on a fresh MFA token: refused.
    let (_, body) = sys
        .post(
            "/uam/api/auth/login",
            None,
            &json!({"usernameOrEmail": "agent1", "password": new_password}),
        )
        .await;
    let mfa2 = body["data"]["mfaToken"]
        .as_str()
        .expect("mfa token")
        .to_string();
    let (st, body) = sys
        .post(
            "/uam/api/auth/totp-login",
            Some(&mfa2),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(st, 401, "a reused TOTP code is refused: {body}");

    // An administrator disabling a user, or changing their roles, ends their sessions.
    let admin = sys.admin_token().await;
    let p2 = "a long enough second agent passphrase";
    sys.create_user("agent2", "agent2@example.com", p2, "AGENT");
    let s1 = sys.login("agent2", p2).await;
    let t1 = s1["accessToken"].as_str().expect("access").to_string();
    let (st, me) = sys.get("/uam/api/users/me", Some(&t1)).await;
    assert_eq!(st, 200);
    let id = me["id"].as_str().expect("id").to_string();
    let (st, body) = sys
        .put(
            &format!("/uam/api/users/{id}"),
            Some(&admin),
            &json!({"roles": ["MANAGER"]}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    refused_within(&sys, "/lead/api/leads", &t1).await;
    let s2 = sys.login("agent2", p2).await;
    let t2 = s2["accessToken"].as_str().expect("access").to_string();
    let (st, me) = sys.get("/uam/api/users/me", Some(&t2)).await;
    assert_eq!(
        (st, me["roles"].clone()),
        (200, json!(["MANAGER"])),
        "the new roles"
    );
    let (st, body) = sys
        .put(
            &format!("/uam/api/users/{id}"),
            Some(&admin),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    refused_within(&sys, "/lead/api/leads", &t2).await;
    refused_within(&sys, "/uam/api/users/me", &t2).await;
    let (st, _) = refresh(&sys, s2["refreshToken"].as_str().expect("rt")).await;
    assert_eq!(st, 401, "a disabled user cannot refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_flows_sqlite() {
    if lms_testkit::backends().contains(&Backend::Sqlite) {
        run(Backend::Sqlite).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_flows_postgres() {
    if lms_testkit::backends().contains(&Backend::Postgres) {
        run(Backend::Postgres).await;
    }
}
