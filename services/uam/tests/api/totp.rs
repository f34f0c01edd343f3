//! TOTP enrolment, the second login step, replay, window, guessing limits.

use crate::helpers::*;
use lms_platform::auth::Role;
use lms_proto::uam::v1 as pb;
use lms_testkit::backends;
use tonic::Code;

/// Signs jane in, enrols TOTP (the enrolment code spends the current step) and returns
/// the secret.
async fn enrol(app: &App) -> String {
    app.user("jane", &[Role::Agent]).await;
    let t = app.login("jane", PASSWORD).await;
    let mut auth = app.auth.clone();
    let setup = auth
        .setup_totp(bearer(pb::SetupTotpRequest {}, &t.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(setup.secret.len(), 32, "160 bits in base32");
    assert!(
        setup.otpauth_uri.starts_with("otpauth://totp/LMS:jane?"),
        "{}",
        setup.otpauth_uri
    );
    assert!(setup.otpauth_uri.contains("issuer=LMS"));
    // Not active before EnableTotp.
    app.login("jane", PASSWORD).await;
    let bad = bad_code(app, &setup.secret);
    let e = assert_err(
        auth.enable_totp(bearer(pb::EnableTotpRequest { code: bad }, &t.access_token))
            .await,
        Code::InvalidArgument,
        "INVALID_TOTP_CODE",
    );
    assert_eq!(e.violations[0].field, "code");
    let user = auth
        .enable_totp(bearer(
            pb::EnableTotpRequest {
                code: code(app, &setup.secret, "jane", 0),
            },
            &t.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(user.totp_enabled);
    setup.secret
}

/// A well-formed code that is valid for neither the current nor the previous step.
fn bad_code(app: &App, secret: &str) -> String {
    let valid = [code(app, secret, "jane", 0), code(app, secret, "jane", -1)];
    ["111111", "222222", "333333"]
        .into_iter()
        .find(|b| !valid.iter().any(|v| v == b))
        .unwrap()
        .to_string()
}

async fn totp_login(app: &App, mfa: &str, code: &str) -> Result<pb::TokenPair, tonic::Status> {
    let r = app
        .auth
        .clone()
        .totp_login(pb::TotpLoginRequest {
            mfa_token: mfa.to_string(),
            code: code.to_string(),
        })
        .await?;
    Ok(r.into_inner().tokens.unwrap())
}

#[tokio::test]
async fn enrol_login_and_replays() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let secret = enrol(&app).await;
        let mfa = app.login_mfa("jane", PASSWORD).await;
        // The MFA token is no access token.
        assert_eq!(
            app.me(&mfa).await.unwrap_err().code(),
            Code::Unauthenticated
        );
        // The enrolment code's step is spent (security.md case 5c).
        assert_err(
            totp_login(&app, &mfa, &code(&app, &secret, "jane", 0)).await,
            Code::Unauthenticated,
            "TOTP_CODE_REUSED",
        );
        next_step(&app);
        let c = code(&app, &secret, "jane", 0);
        let tokens = totp_login(&app, &mfa, &c).await.unwrap();
        let me = app.me(&tokens.access_token).await.unwrap();
        assert!(me.totp_enabled);
        app.refresh(&tokens.refresh_token).await.unwrap();
        // The MFA token is single use.
        next_step(&app);
        assert_err(
            totp_login(&app, &mfa, &code(&app, &secret, "jane", 0)).await,
            Code::Unauthenticated,
            "INVALID_MFA_TOKEN",
        );
        // The same code on a new pending login within its step (case 5a): refused.
        let mfa2 = app.login_mfa("jane", PASSWORD).await;
        assert_err(
            totp_login(&app, &mfa2, &c).await,
            Code::Unauthenticated,
            "TOTP_CODE_REUSED",
        );
        // The MFA token also travels as a bearer header (REST shape).
        let req = bearer(
            pb::TotpLoginRequest {
                mfa_token: String::new(),
                code: code(&app, &secret, "jane", 0),
            },
            &mfa2,
        );
        app.auth.clone().totp_login(req).await.unwrap();
    }
}

#[tokio::test]
async fn previous_step_ok_older_and_future_steps_rejected() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let secret = enrol(&app).await;
        for _ in 0..3 {
            next_step(&app);
        }
        let mfa = app.login_mfa("jane", PASSWORD).await;
        for steps in [-2, 2] {
            assert_err(
                totp_login(&app, &mfa, &code(&app, &secret, "jane", steps)).await,
                Code::Unauthenticated,
                "INVALID_TOTP_CODE",
            );
        }
        totp_login(&app, &mfa, &code(&app, &secret, "jane", -1))
            .await
            .unwrap();
        let mfa = app.login_mfa("jane", PASSWORD).await;
        assert_err(
            totp_login(&app, &mfa, &code(&app, &secret, "jane", 1)).await,
            Code::Unauthenticated,
            "INVALID_TOTP_CODE",
        );
        totp_login(&app, &mfa, &code(&app, &secret, "jane", 0))
            .await
            .unwrap();
        // The previous step is now below the last spent one.
        let mfa = app.login_mfa("jane", PASSWORD).await;
        assert_err(
            totp_login(&app, &mfa, &code(&app, &secret, "jane", -1)).await,
            Code::Unauthenticated,
            "TOTP_CODE_REUSED",
        );
        // Malformed codes are bad input, not guesses.
        assert_err(
            totp_login(&app, &mfa, "12345").await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
    }
}

#[tokio::test]
async fn three_bad_codes_lock_until_the_next_step_even_across_logins() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let secret = enrol(&app).await;
        next_step(&app);
        let good = code(&app, &secret, "jane", 0);
        let bad = bad_code(&app, &secret);
        let bad = bad.as_str();
        let mfa = app.login_mfa("jane", PASSWORD).await;
        for _ in 0..3 {
            assert_err(
                totp_login(&app, &mfa, bad).await,
                Code::Unauthenticated,
                "INVALID_TOTP_CODE",
            );
        }
        assert_err(
            totp_login(&app, &mfa, &good).await,
            Code::Unauthenticated,
            "TOTP_LOCKED",
        );
        // A new password step does not lift the lock.
        let mfa2 = app.login_mfa("jane", PASSWORD).await;
        assert_err(
            totp_login(&app, &mfa2, &good).await,
            Code::Unauthenticated,
            "TOTP_LOCKED",
        );
        next_step(&app);
        totp_login(&app, &mfa2, &code(&app, &secret, "jane", 0))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn daily_cap_voids_pending_logins() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let secret = enrol(&app).await;
        next_step(&app);
        let mfa = app.login_mfa("jane", PASSWORD).await;
        // The failed EnableTotp attempt of `enrol` is the first of the day; 19 more
        // reach the cap of 20.
        let mut failures = 1;
        while failures < 20 {
            let bad = bad_code(&app, &secret);
            let bad = bad.as_str();
            for _ in 0..3 {
                if failures == 20 {
                    break;
                }
                assert_err(
                    totp_login(&app, &mfa, bad).await,
                    Code::Unauthenticated,
                    "INVALID_TOTP_CODE",
                );
                failures += 1;
            }
            next_step(&app);
        }
        // The pending login is void; the password step must be redone.
        assert_err(
            totp_login(&app, &mfa, &code(&app, &secret, "jane", 0)).await,
            Code::Unauthenticated,
            "INVALID_MFA_TOKEN",
        );
        app.clock.advance(chrono::Duration::seconds(1));
        let mfa = app.login_mfa("jane", PASSWORD).await;
        totp_login(&app, &mfa, &code(&app, &secret, "jane", 0))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn concurrent_logins_with_one_code_have_one_winner() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let secret = enrol(&app).await;
        next_step(&app);
        let m1 = app.login_mfa("jane", PASSWORD).await;
        let m2 = app.login_mfa("jane", PASSWORD).await;
        let c = code(&app, &secret, "jane", 0);
        let (r1, r2) = tokio::join!(totp_login(&app, &m1, &c), totp_login(&app, &m2, &c));
        let oks = [r1.is_ok(), r2.is_ok()].iter().filter(|b| **b).count();
        assert_eq!(oks, 1, "{r1:?} {r2:?}");
        let loser = if r1.is_ok() { r2 } else { r1 };
        assert_err(loser, Code::Unauthenticated, "TOTP_CODE_REUSED");
    }
}

#[tokio::test]
async fn mfa_token_expires_and_disable_needs_a_code() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let secret = enrol(&app).await;
        let mfa = app.login_mfa("jane", PASSWORD).await;
        app.clock.advance(chrono::Duration::seconds(301));
        assert_err(
            totp_login(&app, &mfa, &code(&app, &secret, "jane", 0)).await,
            Code::Unauthenticated,
            "INVALID_MFA_TOKEN",
        );
        let mfa = app.login_mfa("jane", PASSWORD).await;
        let t = totp_login(&app, &mfa, &code(&app, &secret, "jane", 0))
            .await
            .unwrap();
        let mut auth = app.auth.clone();
        // Same step as the login: spent.
        let r = auth
            .disable_totp(bearer(
                pb::DisableTotpRequest {
                    code: code(&app, &secret, "jane", 0),
                },
                &t.access_token,
            ))
            .await;
        assert_err(r, Code::InvalidArgument, "TOTP_CODE_REUSED");
        next_step(&app);
        let user = auth
            .disable_totp(bearer(
                pb::DisableTotpRequest {
                    code: code(&app, &secret, "jane", 0),
                },
                &t.access_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert!(!user.totp_enabled);
        app.login("jane", PASSWORD).await;
        let r = auth
            .disable_totp(bearer(
                pb::DisableTotpRequest {
                    code: "123456".into(),
                },
                &t.access_token,
            ))
            .await;
        assert_err(r, Code::FailedPrecondition, "TOTP_NOT_ENABLED");
    }
}
