//! Register: open/closed registration, roles, duplicates, the password policy.

use crate::helpers::*;
use lms_platform::auth::Role;
use lms_proto::uam::v1 as pb;
use lms_testkit::backends;
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn closed_registration_needs_an_admin_who_may_choose_roles() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let mut auth = app.auth.clone();
        let mut req = register_req("jane", PASSWORD);
        req.roles = vec![pb::Role::Manager as i32];
        let r = auth.register(req.clone()).await;
        assert_err(r, Code::PermissionDenied, "REGISTRATION_CLOSED");

        // An agent's token does not open it either.
        app.user("agent", &[Role::Agent]).await;
        let agent = app.login("agent", PASSWORD).await.access_token;
        let r = auth.register(bearer(req.clone(), &agent)).await;
        assert_err(r, Code::PermissionDenied, "REGISTRATION_CLOSED");

        let admin = app.admin_token().await;
        let user = auth
            .register(bearer(req, &admin))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(user.username, "jane");
        assert_eq!(user.email, "jane@example.com");
        assert_eq!(user.roles, vec![pb::Role::Manager as i32]);
        assert!(user.enabled);
        assert!(!user.totp_enabled);
        // Admin with no roles given: AGENT.
        let u = auth
            .register(bearer(register_req("joe", PASSWORD), &admin))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(u.roles, vec![pb::Role::Agent as i32]);
        app.login("jane", PASSWORD).await;
    }
}

#[tokio::test]
async fn open_registration_makes_agents_and_refuses_duplicates() {
    for backend in backends() {
        let app = App::spawn_with(backend, |c| c.registration_open = true).await;
        let mut auth = app.auth.clone();
        let mut req = register_req("Jane.Doe", PASSWORD);
        req.email = "Jane.Doe@Example.COM".into();
        req.roles = vec![pb::Role::Admin as i32];
        let user = auth.register(req).await.unwrap().into_inner().user.unwrap();
        assert_eq!(user.roles, vec![pb::Role::Agent as i32], "roles ignored");
        assert_eq!(user.username, "Jane.Doe");
        assert_eq!(user.email, "jane.doe@example.com");

        let mut dup_name = register_req("jane.doe", PASSWORD);
        dup_name.email = "other@example.com".into();
        assert_err(
            auth.register(dup_name).await,
            Code::AlreadyExists,
            "USERNAME_TAKEN",
        );
        let mut dup_mail = register_req("someone", PASSWORD);
        dup_mail.email = "JANE.DOE@example.com".into();
        assert_err(
            auth.register(dup_mail).await,
            Code::AlreadyExists,
            "EMAIL_TAKEN",
        );

        // Login by e-mail in any case, and by username in any case.
        app.login("JANE.DOE@EXAMPLE.COM", PASSWORD).await;
        app.login("jane.DOE", PASSWORD).await;
    }
}

#[tokio::test]
async fn bad_fields_are_all_named() {
    for backend in backends() {
        let app = App::spawn_with(backend, |c| c.registration_open = true).await;
        let req = pb::RegisterRequest {
            username: "a b".into(),
            email: "not-an-email".into(),
            password: "short".into(),
            first_name: String::new(),
            last_name: "x".repeat(101),
            roles: vec![],
        };
        let e = assert_err(
            app.auth.clone().register(req).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        let fields: Vec<_> = e.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["username", "email", "firstName", "lastName", "password"]
        );
        let mut bad_role = register_req("jane", PASSWORD);
        bad_role.roles = vec![0];
        let e = assert_err(
            app.auth.clone().register(bad_role).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_eq!(e.violations[0].field, "roles[0]");
    }
}

#[tokio::test]
async fn password_policy_of_security_md_case_9c() {
    for backend in backends() {
        let app = App::spawn_with(backend, |c| c.registration_open = true).await;
        let mut auth = app.auth.clone();
        let reject = |name: &str, pw: String| {
            let mut auth = auth.clone();
            let req = register_req(name, &pw);
            async move {
                let e = assert_err(
                    auth.register(req).await,
                    Code::InvalidArgument,
                    "WEAK_PASSWORD",
                );
                assert_eq!(e.violations.len(), 1);
                assert_eq!(e.violations[0].field, "password");
                e.violations[0].description.clone()
            }
        };
        let d = reject("user1", "Password1!".into()).await;
        assert!(d.contains("at least 12"), "{d}");
        // On the common list and long enough: refused as common, in any case.
        let d = reject("user2", "Q1W2E3R4T5Y6".into()).await;
        assert!(d.contains("common"), "{d}");
        reject("user3", "abc1234".into()).await;
        let d = reject("user4", "a".repeat(200)).await;
        assert!(d.contains("at most 128"), "{d}");
        // 1 MiB: refused without hashing.
        let started = Instant::now();
        reject("user5", "x".repeat(1 << 20)).await;
        assert!(started.elapsed() < Duration::from_secs(2));

        // A 64-character Unicode passphrase with spaces (inner, leading and trailing).
        let phrase = " Ünïcødé passphrase — mit Leerzeichen, ☕ und 日本語 too!  ";
        let phrase = format!("{phrase}{}", "z".repeat(64 - phrase.chars().count()));
        assert_eq!(phrase.chars().count(), 64);
        auth.register(register_req("unicode", &phrase))
            .await
            .unwrap();
        app.login("unicode", &phrase).await;
        // Exactly: no trimming, no case folding, no truncation.
        for wrong in [
            phrase.trim().to_string(),
            phrase.to_uppercase(),
            phrase.chars().take(63).collect::<String>(),
        ] {
            assert_err(
                app.try_login("unicode", &wrong).await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
    }
}
