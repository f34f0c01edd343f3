//! uam through the REST front: the seed's envelope on login, totp-login and refresh, the
//! error JSON everywhere else, bare Users, pages, TOTP enrolment and login, sessions.

use crate::helpers::{PASSWORD, Stack, assert_error, call};
use lms_platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};

fn assert_envelope(body: &Value) {
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["statusCode"], 200, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        body["timestamp"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some(),
        "{body}"
    );
}

fn assert_tokens(data: &Value) {
    assert!(
        data["accessToken"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{data}"
    );
    assert!(data["refreshToken"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(data["tokenType"], "Bearer");
    assert_eq!(data["expiresIn"], 900);
    assert_eq!(data["mfaRequired"], false);
}

#[tokio::test]
async fn login_refresh_rotation_and_the_error_json() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        s.user("ann", &[Role::Admin]).await;

        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/login")
                .json(&json!({"usernameOrEmail": "ann@example.com", "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_envelope(&body);
        assert_tokens(&body["data"]);
        let rt1 = body["data"]["refreshToken"].as_str().unwrap().to_string();
        let access = body["data"]["accessToken"].as_str().unwrap().to_string();

        // Errors on the token endpoints are the error JSON, not the envelope.
        let res = s
            .req(Method::POST, "/uam/api/auth/login")
            .json(&json!({"usernameOrEmail": "ann", "password": "not the password at all"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let status = res.status().as_u16();
        let body = crate::helpers::body_of(res).await;
        assert_error(status, &body, 401, "INVALID_CREDENTIALS", &[]);
        assert!(body.get("success").is_none());

        // Refresh with the token in the query string, as the seed does.
        let (status, body) = call(s.req(
            Method::POST,
            &format!("/uam/api/auth/refresh?refreshToken={rt1}"),
        ))
        .await;
        assert_eq!(status, 200, "{body}");
        assert_envelope(&body);
        assert_tokens(&body["data"]);
        let rt2 = body["data"]["refreshToken"].as_str().unwrap().to_string();
        assert_ne!(rt1, rt2);

        // And in a JSON body.
        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/refresh")
                .json(&json!({"refreshToken": rt2})),
        )
        .await;
        assert_eq!(status, 200, "{body}");

        // The retired token is refused, and revokes the family.
        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/refresh")
                .json(&json!({"refreshToken": rt1})),
        )
        .await;
        assert_error(status, &body, 401, "REFRESH_TOKEN_REUSED", &[]);
        let (status, body) = call(s.req(Method::POST, "/uam/api/auth/refresh")).await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["refreshToken"]);

        // The reuse revoked the family, i.e. the session, and its access token with it,
        // as soon as the revocation feed reaches the verifiers.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let (status, body) = loop {
            let (status, body) = call(s.authed(Method::GET, "/uam/api/users/me", &access)).await;
            if status == 401 || std::time::Instant::now() > deadline {
                break (status, body);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        };
        assert_error(status, &body, 401, "INVALID_TOKEN", &[]);

        // The bearer token reaches uam as `authorization` metadata.
        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/login")
                .json(&json!({"usernameOrEmail": "ann", "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let access = body["data"]["accessToken"].as_str().unwrap().to_string();
        let (status, me) = call(s.authed(Method::GET, "/uam/api/users/me", &access)).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["username"], "ann");
        assert_eq!(me["roles"], json!(["ADMIN"]));
        assert_eq!(me["totpEnabled"], false);
        for key in [
            "id",
            "email",
            "firstName",
            "lastName",
            "enabled",
            "createdAt",
            "updatedAt",
        ] {
            assert!(me.get(key).is_some(), "User lacks {key}: {me}");
        }
        let (status, body) = call(s.req(Method::GET, "/uam/api/users/me")).await;
        assert_error(status, &body, 401, "UNAUTHENTICATED", &[]);
        let (status, body) = call(s.authed(Method::GET, "/uam/api/users/me", "not.a.token")).await;
        assert_eq!(status, 401, "{body}");
    }
}

#[tokio::test]
async fn register_list_and_administer_users() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        let (_, admin) = s.signed_in("root", &[Role::Admin]).await;
        let new_user = json!({
            "username": "maria", "email": "maria@example.com", "password": PASSWORD,
            "firstName": "Maria", "lastName": "Silva", "roles": ["MANAGER"]
        });

        // Registration is closed: only an ADMIN may register.
        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/register")
                .json(&new_user),
        )
        .await;
        assert_error(status, &body, 403, "REGISTRATION_CLOSED", &[]);

        let (status, user) = call(
            s.authed(Method::POST, "/uam/api/auth/register", &admin)
                .json(&new_user),
        )
        .await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["username"], "maria");
        assert_eq!(user["firstName"], "Maria");
        assert_eq!(user["roles"], json!(["MANAGER"]));
        assert_eq!(user["enabled"], true);
        assert!(
            user.get("success").is_none(),
            "sign-up answers the bare User"
        );
        let maria = user["id"].as_str().unwrap().to_string();

        let (status, body) = call(
            s.authed(Method::POST, "/uam/api/auth/register", &admin)
                .json(&new_user),
        )
        .await;
        assert_error(status, &body, 409, "USERNAME_TAKEN", &[]);
        let mut bad = new_user.clone();
        bad["roles"] = json!(["ROOT"]);
        let (status, body) = call(
            s.authed(Method::POST, "/uam/api/auth/register", &admin)
                .json(&bad),
        )
        .await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["roles[0]"]);

        // A Spring page of users.
        let (status, page) =
            call(s.authed(Method::GET, "/uam/api/users?page=0&size=1", &admin)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["totalElements"], 2);
        assert_eq!(page["totalPages"], 2);
        assert_eq!(page["size"], 1);
        assert_eq!(page["number"], 0);
        assert_eq!(page["first"], true);
        assert_eq!(page["last"], false);
        assert_eq!(page["numberOfElements"], 1);
        assert_eq!(page["empty"], false);
        let first = page["content"][0]["username"].as_str().unwrap().to_string();
        let (status, page) =
            call(s.authed(Method::GET, "/uam/api/users?page=1&size=1", &admin)).await;
        assert_eq!(status, 200);
        assert_eq!(page["last"], true);
        let mut both = vec![
            first,
            page["content"][0]["username"].as_str().unwrap().to_string(),
        ];
        both.sort();
        assert_eq!(both, ["maria", "root"]);

        // Managers may neither list nor administer users.
        let maria_token = s.login("maria").await["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = call(s.authed(Method::GET, "/uam/api/users", &maria_token)).await;
        assert_error(status, &body, 403, "PERMISSION_DENIED", &[]);
        let path = format!("/uam/api/users/{maria}");
        let (status, body) = call(
            s.authed(Method::PUT, &path, &maria_token)
                .json(&json!({"enabled": false})),
        )
        .await;
        assert_error(status, &body, 403, "PERMISSION_DENIED", &[]);

        let (status, body) = call(
            s.authed(Method::PUT, &path, &admin)
                .json(&json!({"username": "mary"})),
        )
        .await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["username"]);
        // Violations name the body's fields, not the gRPC message's.
        let (status, body) = call(s.authed(Method::PUT, &path, &admin).json(&json!({}))).await;
        assert_error(
            status,
            &body,
            400,
            "INVALID_ARGUMENT",
            &["roles", "enabled"],
        );
        let (status, body) = call(
            s.authed(Method::PUT, &path, &admin)
                .json(&json!({"roles": []})),
        )
        .await;
        assert_eq!(body["violations"][0]["field"], "roles", "{body}");
        assert_eq!(status, 400);

        let (status, user) = call(
            s.authed(Method::PUT, &path, &admin)
                .json(&json!({"roles": ["AGENT", "MANAGER"], "enabled": false})),
        )
        .await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["enabled"], false);
        let mut roles: Vec<&str> = user["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        roles.sort();
        assert_eq!(roles, vec!["AGENT", "MANAGER"]);
        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/login")
                .json(&json!({"usernameOrEmail": "maria", "password": PASSWORD})),
        )
        .await;
        assert_error(status, &body, 401, "INVALID_CREDENTIALS", &[]);
    }
}

/// The TOTP code of the uam clock's step for a base32 secret.
fn code(s: &Stack, secret: &str, username: &str) -> String {
    use lms_uam::domain::totp;
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let g = totp::generator(&bytes, username).unwrap();
    totp::code_at(&g, totp::step_of(s.uam_now().timestamp()))
}

/// Moves uam's clock to the next 30 s step.
fn next_step(s: &Stack) {
    let t = s.uam_now().timestamp();
    s.uam_clock
        .advance(chrono::Duration::seconds(30 - t.rem_euclid(30) + 1));
}

#[tokio::test]
async fn totp_enrolment_login_and_sessions() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        s.user("tom", &[Role::Agent]).await;
        let first = s.login("tom").await;
        let access = first["accessToken"].as_str().unwrap().to_string();

        let (status, setup) =
            call(s.authed(Method::POST, "/uam/api/auth/totp/setup", &access)).await;
        assert_eq!(status, 200, "{setup}");
        let secret = setup["secret"].as_str().unwrap().to_string();
        assert!(
            setup["otpauthUri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/")
        );

        let (status, body) = call(
            s.authed(Method::POST, "/uam/api/auth/totp/enable", &access)
                .json(&json!({"code": "000000", "extra": 1})),
        )
        .await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["extra"]);
        let (status, user) = call(
            s.authed(Method::POST, "/uam/api/auth/totp/enable", &access)
                .json(&json!({"code": code(&s, &secret, "tom")})),
        )
        .await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["totpEnabled"], true);

        // Login now asks for the second factor.
        next_step(&s);
        let data = s.login("tom").await;
        assert_eq!(data["mfaRequired"], true, "{data}");
        assert!(data.get("accessToken").is_none());
        let mfa = data["mfaToken"].as_str().unwrap().to_string();
        let totp_code = code(&s, &secret, "tom");

        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/totp-login")
                .json(&json!({"code": totp_code})),
        )
        .await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["Authorization"]);

        let (status, body) = call(
            s.authed(Method::POST, "/uam/api/auth/totp-login", &mfa)
                .json(&json!({"code": totp_code})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_envelope(&body);
        assert_tokens(&body["data"]);
        let second_rt = body["data"]["refreshToken"].as_str().unwrap().to_string();
        let second_access = body["data"]["accessToken"].as_str().unwrap().to_string();

        // The same code again, on a fresh login: refused.
        let mfa2 = s.login("tom").await["mfaToken"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = call(
            s.authed(Method::POST, "/uam/api/auth/totp-login", &mfa2)
                .json(&json!({"code": totp_code})),
        )
        .await;
        assert_error(status, &body, 401, "TOTP_CODE_REUSED", &[]);

        // Changing the password keeps this session and ends the first one.
        let (status, body) = call(
            s.authed(Method::POST, "/uam/api/auth/change-password", &second_access)
                .json(&json!({"currentPassword": "wrong wrong wrong", "newPassword": "another fine passphrase"})),
        )
        .await;
        assert!(status == 400 || status == 401, "{status} {body}");
        let (status, body) = call(
            s.authed(
                Method::POST,
                "/uam/api/auth/change-password",
                &second_access,
            )
            .json(
                &json!({"currentPassword": PASSWORD, "newPassword": "another fine passphrase",
                    "refreshToken": second_rt}),
            ),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revokedSessions"], 1, "{body}");
        let (status, body) = call(
            s.req(Method::POST, "/uam/api/auth/refresh")
                .json(&json!({"refreshToken": first["refreshToken"]})),
        )
        .await;
        assert_eq!(status, 401, "{body}");

        let (status, body) = call(
            s.authed(Method::POST, "/uam/api/auth/logout", &second_access)
                .json(&json!({"refreshToken": second_rt})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revokedSessions"], 1, "{body}");
        let (status, _) = call(
            s.req(Method::POST, "/uam/api/auth/refresh")
                .json(&json!({"refreshToken": second_rt})),
        )
        .await;
        assert_eq!(status, 401);
    }
}
