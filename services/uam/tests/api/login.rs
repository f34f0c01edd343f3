//! Login: one generic error, per-account throttling, per-IP limit, hashing limits.

use crate::helpers::*;
use lms_platform::auth::Role;
use lms_proto::uam::v1 as pb;
use lms_testkit::backends;
use sqlx::Row;
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn every_failure_is_the_same_generic_error() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let admin = app.admin_token().await;
        let off = app.user("off", &[Role::Agent]).await;
        app.users
            .clone()
            .update_user(bearer(
                pb::UpdateUserRequest {
                    user: Some(pb::User {
                        id: off.id,
                        enabled: false,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["enabled".into()],
                    }),
                },
                &admin,
            ))
            .await
            .unwrap();
        app.user("jane", &[Role::Agent]).await;
        let mut messages = Vec::new();
        for (login, pw) in [
            ("nobody", PASSWORD),
            ("nobody@example.com", PASSWORD),
            ("jane", "a wrong passphrase!"),
            ("off", PASSWORD),
        ] {
            let e = assert_err(
                app.try_login(login, pw).await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
            assert!(e.violations.is_empty());
            messages.push(e.message);
        }
        messages.dedup();
        assert_eq!(messages.len(), 1, "{messages:?}");
        app.login("jane@EXAMPLE.com", PASSWORD).await;
    }
}

#[tokio::test]
async fn account_lock_refuses_even_the_right_password_until_it_ends() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        // Four failures, then success: the count starts again.
        for _ in 0..4 {
            assert_err(
                app.try_login("jane", "wrong wrong wrong").await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
        app.login("jane", PASSWORD).await;
        for _ in 0..5 {
            assert_err(
                app.try_login("jane", "wrong wrong wrong").await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
        // Locked for 1 s: the right password gets the same generic error.
        assert_err(
            app.try_login("jane", PASSWORD).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        app.clock.advance(chrono::Duration::milliseconds(1_100));
        // The sixth failure locks for 3 s.
        assert_err(
            app.try_login("jane", "wrong wrong wrong").await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        app.clock.advance(chrono::Duration::seconds(2));
        assert_err(
            app.try_login("jane", PASSWORD).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        app.clock.advance(chrono::Duration::milliseconds(1_100));
        app.login("jane", PASSWORD).await;
        // The counters are in the database.
        let row = sqlx::query("SELECT login_failures FROM users WHERE username = 'jane'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64, _>("login_failures").unwrap(), 0);
    }
}

#[tokio::test]
async fn per_ip_limit_uses_forwarded_for_from_trusted_proxies() {
    for backend in backends() {
        // Production defaults: 20 per minute, burst 20; loopback is a trusted proxy.
        let app = App::spawn_with(backend, |_| {}).await;
        app.user("jane", &[Role::Agent]).await;
        let mut auth = app.auth.clone();
        let req = || pb::LoginRequest {
            username_or_email: "nobody-here".into(),
            password: PASSWORD.into(),
        };
        for _ in 0..20 {
            assert_err(
                auth.login(from_ip(req(), "198.51.100.1")).await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
        // The bucket refills one attempt every 3 s; on a slow machine the 20 hashed
        // attempts may have earned one back, but a refused attempt earns nothing.
        let mut tripped = false;
        for _ in 0..3 {
            match auth.login(from_ip(req(), "198.51.100.1")).await {
                Err(s) if s.code() == Code::ResourceExhausted => {
                    let e = lms_platform::ApiError::from_status(&s);
                    assert_eq!(e.reason, "TOO_MANY_REQUESTS");
                    tripped = true;
                    break;
                }
                other => {
                    assert_err(other, Code::Unauthenticated, "INVALID_CREDENTIALS");
                }
            }
        }
        assert!(tripped);
        // Another client address behind the same proxy is not affected.
        let ok = auth
            .login(from_ip(
                pb::LoginRequest {
                    username_or_email: "jane".into(),
                    password: PASSWORD.into(),
                },
                "198.51.100.2, 10.0.0.1",
            ))
            .await;
        assert!(ok.is_ok());
    }
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_untrusted_peers() {
    for backend in backends() {
        let app = App::spawn_with(backend, |c| {
            c.trusted_proxies = vec!["10.9.9.9".into()];
            c.ip_attempts_burst = 3;
        })
        .await;
        let mut auth = app.auth.clone();
        for i in 0..3 {
            let r = auth
                .login(from_ip(
                    pb::LoginRequest {
                        username_or_email: "nobody".into(),
                        password: PASSWORD.into(),
                    },
                    &format!("198.51.100.{i}"),
                ))
                .await;
            assert_err(r, Code::Unauthenticated, "INVALID_CREDENTIALS");
        }
        // All count against the proxy's own address, whatever they claim (a slow run may
        // have earned one attempt back: one refill every 3 s).
        let mut tripped = false;
        for i in 0..3 {
            let r = auth
                .login(from_ip(
                    pb::LoginRequest {
                        username_or_email: "nobody".into(),
                        password: PASSWORD.into(),
                    },
                    &format!("198.51.100.{}", 77 + i),
                ))
                .await;
            if r.as_ref()
                .is_err_and(|s| s.code() == Code::ResourceExhausted)
            {
                tripped = true;
                break;
            }
            assert_err(r, Code::Unauthenticated, "INVALID_CREDENTIALS");
        }
        assert!(tripped);
    }
}

#[tokio::test]
async fn long_inputs_are_refused_before_hashing() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let started = Instant::now();
        let e = assert_err(
            app.try_login("jane", &"x".repeat(1 << 20)).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_eq!(e.violations[0].field, "password");
        let e = assert_err(
            app.try_login(&"u".repeat(1 << 20), PASSWORD).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_eq!(e.violations[0].field, "usernameOrEmail");
        assert!(started.elapsed() < Duration::from_secs(2));
        // A 10 MiB username does not even reach the handler (message size limit).
        let r = app.try_login(&"u".repeat(10 << 20), PASSWORD).await;
        assert!(r.is_err());
    }
}

#[tokio::test]
async fn saturated_hashing_fails_fast_with_resource_exhausted() {
    for backend in backends() {
        let app = App::spawn_with(backend, |c| {
            c.hash_concurrency = 1;
            c.hash_wait_ms = 1;
            c.ip_attempts_burst = 10_000;
        })
        .await;
        app.user("jane", &[Role::Agent]).await;
        // Wait until the start-up warm-up has released the only slot.
        let mut ready = false;
        for _ in 0..100 {
            if app.try_login("jane", PASSWORD).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready);
        let calls = (0..12).map(|_| {
            let app_auth = app.auth.clone();
            async move {
                let mut a = app_auth;
                a.login(pb::LoginRequest {
                    username_or_email: "jane".into(),
                    password: PASSWORD.into(),
                })
                .await
            }
        });
        let results = futures::future::join_all(calls).await;
        let busy = results
            .iter()
            .filter(|r| {
                r.as_ref().err().is_some_and(|s| {
                    s.code() == Code::ResourceExhausted
                        && lms_platform::ApiError::from_status(s).reason == "SERVER_BUSY"
                })
            })
            .count();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert!(busy >= 1, "some calls found no hashing slot");
        assert!(ok >= 1, "some calls got through");
        assert_eq!(busy + ok, 12, "{results:?}");
    }
}

#[tokio::test]
async fn weak_stored_hash_is_upgraded_on_login() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let params = argon2::Params::new(4096, 1, 1, None).unwrap();
        let weak = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(
                PASSWORD.as_bytes(),
                &SaltString::encode_b64(b"0123456789abcdef").unwrap(),
            )
            .unwrap()
            .to_string();
        sqlx::query("UPDATE users SET password_hash = $1 WHERE username = 'jane'")
            .bind(&weak)
            .execute(&app.db.pool)
            .await
            .unwrap();
        app.login("jane", PASSWORD).await;
        let row = sqlx::query("SELECT password_hash FROM users WHERE username = 'jane'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        let stored: String = row.try_get("password_hash").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        app.login("jane", PASSWORD).await;
    }
}
