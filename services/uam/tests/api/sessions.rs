//! Refresh rotation, reuse detection, races, expiry, logout, password change.

use crate::helpers::*;
use lms_platform::auth::Role;
use lms_proto::uam::v1 as pb;
use lms_testkit::{Backend, backends};
use sqlx::Row;
use tonic::Code;

#[tokio::test]
async fn rotation_and_reuse_revokes_the_family() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let t1 = app.login("jane", PASSWORD).await;
        assert_eq!(t1.token_type, "Bearer");
        assert_eq!(t1.expires_in, 900);
        assert_eq!(t1.refresh_token.len(), 43);
        let t2 = app.refresh(&t1.refresh_token).await.unwrap();
        assert_ne!(t2.refresh_token, t1.refresh_token);
        app.me(&t2.access_token).await.unwrap();
        let t3 = app.refresh(&t2.refresh_token).await.unwrap();
        // Presenting the retired RT2 revokes the family: RT3 dies too.
        assert_err(
            app.refresh(&t2.refresh_token).await,
            Code::Unauthenticated,
            "REFRESH_TOKEN_REUSED",
        );
        assert_err(
            app.refresh(&t3.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        assert_err(
            app.refresh(&t1.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        // Another login is a separate family and unaffected.
        let other = app.login("jane", PASSWORD).await;
        app.refresh(&other.refresh_token).await.unwrap();
        // Unknown, empty and access tokens in the refresh position.
        assert_err(
            app.refresh("bm90LWEtdG9rZW4").await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        assert_err(
            app.refresh("").await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_err(
            app.refresh(&other.access_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        // Only hashes are stored.
        let rows = sqlx::query("SELECT token_hash FROM refresh_tokens")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
        for r in rows {
            let h: String = r.try_get("token_hash").unwrap();
            assert_eq!(h.len(), 64);
            assert_ne!(h, t1.refresh_token);
        }
    }
}

#[tokio::test]
async fn replaying_the_first_token_revokes_its_live_successor() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let t1 = app.login("jane", PASSWORD).await;
        let t2 = app.refresh(&t1.refresh_token).await.unwrap();
        // RT1 was retired before this request: a replay, not a race.
        assert_err(
            app.refresh(&t1.refresh_token).await,
            Code::Unauthenticated,
            "REFRESH_TOKEN_REUSED",
        );
        assert_err(
            app.refresh(&t2.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        let reason: String = sqlx::query("SELECT revoke_reason FROM sessions")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .try_get("revoke_reason")
            .unwrap();
        assert_eq!(reason, "refresh_token_reused");
    }
}

/// Parallel refreshes this test fires with one token.
const RACERS: usize = 20;

#[tokio::test]
async fn twenty_parallel_refreshes_exactly_one_wins() {
    for backend in backends() {
        // A connection per racer plus the gate's, so no racer waits for the pool.
        let app = App::spawn_with_pool(backend, RACERS as u32 + 4).await;
        app.user("jane", &[Role::Agent]).await;
        let t = app.login("jane", PASSWORD).await;
        // Make the race certain: hold the write gate every rotation passes (SQLite's
        // single writer lock; on PostgreSQL the owner's row lock) until all racers have
        // read the live token and wait at it. Otherwise a late racer may only arrive
        // after the winner committed, which is a replay by definition.
        let mut gate = app.db.begin_write().await.unwrap();
        sqlx::query("SELECT id FROM users WHERE username = 'jane'")
            .fetch_one(&mut *gate)
            .await
            .unwrap();
        if backend == Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE username = 'jane' FOR UPDATE")
                .fetch_one(&mut *gate)
                .await
                .unwrap();
        }
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let mut auth = app.auth.clone();
                let rt = t.refresh_token.clone();
                tokio::spawn(async move {
                    auth.refresh_token(pb::RefreshTokenRequest { refresh_token: rt })
                        .await
                        .map(|r| r.into_inner().tokens.unwrap())
                })
            })
            .collect();
        wait_for_racers(&app, backend).await;
        gate.rollback().await.unwrap();
        let mut results = Vec::new();
        for r in racers {
            results.push(r.await.unwrap());
        }
        let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(wins.len(), 1, "{results:?}");
        // Every loser read the token while it was live and lost the compare-and-set:
        // UNAUTHENTICATED REFRESH_TOKEN_RACE, never a 5xx, and nothing is revoked.
        for r in &results {
            if let Err(s) = r {
                let e = lms_platform::ApiError::from_status(s);
                assert_eq!(e.code, Code::Unauthenticated, "{e}");
                assert_eq!(e.reason, "REFRESH_TOKEN_RACE", "{e}");
            }
        }
        // The DB holds the retired token and exactly one live successor, in a live family.
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM refresh_tokens").await,
            2
        );
        let live = "SELECT COUNT(*) AS n FROM refresh_tokens WHERE used_at IS NULL";
        assert_eq!(count(&app, live).await, 1);
        let families = "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL";
        assert_eq!(count(&app, families).await, 1);
        // The winner's successor works and rotates on.
        let next = app.refresh(&wins[0].refresh_token).await.unwrap();
        app.me(&next.access_token).await.unwrap();
        // Presenting the original token now is a replay: the family dies.
        assert_err(
            app.refresh(&t.refresh_token).await,
            Code::Unauthenticated,
            "REFRESH_TOKEN_REUSED",
        );
        assert_err(
            app.refresh(&next.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
    }
}

/// Waits until every racer holds a connection in its write transaction, blocked at the
/// gate (each has done its first read by then).
async fn wait_for_racers(app: &App, backend: Backend) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    loop {
        let waiting = match backend {
            // Exact: backends of this database waiting for a lock.
            Backend::Postgres => {
                count(
                    app,
                    "SELECT COUNT(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .await as usize
            }
            // Busy-waiting writers are invisible to SQL: count the racers' connections
            // (all but the gate's); the first read never blocks (WAL), so each is at
            // BEGIN IMMEDIATE or about to be.
            Backend::Sqlite => (app.db.pool.size() as usize)
                .saturating_sub(app.db.pool.num_idle())
                .saturating_sub(1),
        };
        if waiting >= RACERS {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {waiting} of {RACERS} racers reached the gate"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    if backend == Backend::Sqlite {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn count(app: &App, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

#[tokio::test]
async fn family_expires_after_its_absolute_lifetime() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let t = app.login("jane", PASSWORD).await;
        app.clock
            .advance(chrono::Duration::hours(11) + chrono::Duration::minutes(59));
        let t2 = app.refresh(&t.refresh_token).await.unwrap();
        app.clock.advance(chrono::Duration::minutes(1));
        assert_err(
            app.refresh(&t2.refresh_token).await,
            Code::Unauthenticated,
            "REFRESH_TOKEN_EXPIRED",
        );
        let revoked: Option<i64> = sqlx::query("SELECT revoked_at FROM sessions")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .try_get("revoked_at")
            .unwrap();
        assert!(revoked.is_some(), "expired family marked");
        assert_err(
            app.refresh(&t2.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
    }
}

#[tokio::test]
async fn logout_revokes_one_or_all_families_of_the_caller() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        app.user("joe", &[Role::Agent]).await;
        let a = app.login("jane", PASSWORD).await;
        let b = app.login("jane", PASSWORD).await;
        let c = app.login("jane", PASSWORD).await;
        let joe = app.login("joe", PASSWORD).await;
        let mut auth = app.auth.clone();
        let logout = |rt: &str, token: &str| {
            bearer(
                pb::LogoutRequest {
                    refresh_token: rt.to_string(),
                },
                token,
            )
        };
        // Someone else's refresh token is refused and left alone.
        assert_err(
            auth.logout(logout(&joe.refresh_token, &a.access_token))
                .await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        let r = auth
            .logout(logout(&a.refresh_token, &a.access_token))
            .await
            .unwrap();
        assert_eq!(r.into_inner().revoked_sessions, 1);
        assert_err(
            app.refresh(&a.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        // The logged-out session's access token no longer changes the account (uam
        // checks the session itself: UNAUTHENTICATED, or INVALID_TOKEN once the
        // revocation feed reached the token verifier).
        let r = auth
            .setup_totp(bearer(pb::SetupTotpRequest {}, &a.access_token))
            .await;
        assert_eq!(r.unwrap_err().code(), Code::Unauthenticated);
        let b2 = app.refresh(&b.refresh_token).await.unwrap();
        let r = auth.logout(logout("", &b2.access_token)).await.unwrap();
        assert_eq!(r.into_inner().revoked_sessions, 2);
        for rt in [&b2.refresh_token, &c.refresh_token] {
            assert_err(
                app.refresh(rt).await,
                Code::Unauthenticated,
                "INVALID_REFRESH_TOKEN",
            );
        }
        app.refresh(&joe.refresh_token).await.unwrap();
        // Without a token: UNAUTHENTICATED from the auth layer.
        let r = auth
            .logout(pb::LogoutRequest {
                refresh_token: String::new(),
            })
            .await;
        assert_eq!(r.unwrap_err().code(), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn change_password_revokes_other_sessions_but_not_the_callers() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let a = app.login("jane", PASSWORD).await;
        let b = app.login("jane", PASSWORD).await;
        let mut auth = app.auth.clone();
        let change = |current: &str, new: &str, rt: &str| {
            bearer(
                pb::ChangePasswordRequest {
                    current_password: current.to_string(),
                    new_password: new.to_string(),
                    refresh_token: rt.to_string(),
                },
                &a.access_token,
            )
        };
        let new_pw = "another fine passphrase";
        let e = assert_err(
            auth.change_password(change("not my password!", new_pw, &a.refresh_token))
                .await,
            Code::InvalidArgument,
            "INVALID_CURRENT_PASSWORD",
        );
        assert_eq!(e.violations[0].field, "currentPassword");
        let e = assert_err(
            auth.change_password(change(PASSWORD, "Password1!", &a.refresh_token))
                .await,
            Code::InvalidArgument,
            "WEAK_PASSWORD",
        );
        assert_eq!(e.violations[0].field, "newPassword");
        let r = auth
            .change_password(change(PASSWORD, new_pw, &a.refresh_token))
            .await
            .unwrap();
        assert_eq!(r.into_inner().revoked_sessions, 1);
        assert_err(
            app.refresh(&b.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
        app.refresh(&a.refresh_token).await.unwrap();
        // B's access token no longer changes the account (see the logout test).
        let r = auth
            .change_password(bearer(
                pb::ChangePasswordRequest {
                    current_password: new_pw.into(),
                    new_password: "b wants it back now".into(),
                    refresh_token: String::new(),
                },
                &b.access_token,
            ))
            .await;
        assert_eq!(r.unwrap_err().code(), Code::Unauthenticated);
        assert_err(
            app.try_login("jane", PASSWORD).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        let c = app.login("jane", new_pw).await;

        // Without a refresh token the family of the access token's `sid` survives.
        let d = app.login("jane", new_pw).await;
        let r = auth
            .change_password(bearer(
                pb::ChangePasswordRequest {
                    current_password: new_pw.into(),
                    new_password: PASSWORD.into(),
                    refresh_token: String::new(),
                },
                &d.access_token,
            ))
            .await
            .unwrap();
        // a's family and c's family go; d's stays.
        assert_eq!(r.into_inner().revoked_sessions, 2);
        app.refresh(&d.refresh_token).await.unwrap();
        assert_err(
            app.refresh(&c.refresh_token).await,
            Code::Unauthenticated,
            "INVALID_REFRESH_TOKEN",
        );
    }
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_login_lock() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let a = app.login("jane", PASSWORD).await;
        let mut auth = app.auth.clone();
        for _ in 0..5 {
            let r = auth
                .change_password(bearer(
                    pb::ChangePasswordRequest {
                        current_password: "not my password!".into(),
                        new_password: "another fine passphrase".into(),
                        refresh_token: String::new(),
                    },
                    &a.access_token,
                ))
                .await;
            assert_err(r, Code::InvalidArgument, "INVALID_CURRENT_PASSWORD");
        }
        assert_err(
            app.try_login("jane", PASSWORD).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        app.clock.advance(chrono::Duration::seconds(2));
        app.login("jane", PASSWORD).await;
    }
}

/// Session ids of `user`'s families, revoked or not.
async fn session_ids(app: &App, revoked: bool) -> Vec<String> {
    let sql = if revoked {
        "SELECT id FROM sessions WHERE revoked_at IS NOT NULL ORDER BY id"
    } else {
        "SELECT id FROM sessions WHERE revoked_at IS NULL ORDER BY id"
    };
    sqlx::query(sql)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect()
}

/// A request as a mesh service makes it.
fn as_mesh<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert(
        "x-lms-service-key",
        lms_testkit::TEST_MESH_KEY.parse().unwrap(),
    );
    req
}

/// Logs out of the session of `t`.
async fn log_out(app: &App, t: &pb::TokenPair) {
    let req = pb::LogoutRequest {
        refresh_token: t.refresh_token.clone(),
    };
    app.auth
        .clone()
        .logout(bearer(req, &t.access_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn revoked_sessions_are_streamed_to_mesh_services_only() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Admin]).await;
        let a = app.login("jane", PASSWORD).await;
        let b = app.login("jane", PASSWORD).await;
        let mut auth = app.auth.clone();

        // Not for the public, not for users: mesh services only.
        let r = auth
            .watch_revoked_sessions(pb::WatchRevokedSessionsRequest {})
            .await;
        assert_eq!(r.unwrap_err().code(), Code::Unauthenticated, "{backend:?}");
        let r = auth
            .watch_revoked_sessions(bearer(pb::WatchRevokedSessionsRequest {}, &a.access_token))
            .await;
        assert_eq!(r.unwrap_err().code(), Code::PermissionDenied, "{backend:?}");

        // A session revoked before subscribing is in the first message.
        log_out(&app, &a).await;
        let gone = session_ids(&app, true).await;
        assert_eq!(gone.len(), 1);
        let mut stream = auth
            .watch_revoked_sessions(as_mesh(pb::WatchRevokedSessionsRequest {}))
            .await
            .unwrap()
            .into_inner();
        let first = stream.message().await.unwrap().unwrap();
        let ids: Vec<&str> = first
            .sessions
            .iter()
            .map(|s| s.session_id.as_str())
            .collect();
        assert_eq!(ids, [gone[0].as_str()], "{backend:?}");
        assert!(first.sessions[0].revoke_time.is_some());

        // A revocation after subscribing arrives promptly, and only the new one.
        let live = session_ids(&app, false).await;
        assert_eq!(live.len(), 1);
        log_out(&app, &b).await;
        let next = tokio::time::timeout(std::time::Duration::from_secs(1), stream.message())
            .await
            .expect("the revocation arrives within a second")
            .unwrap()
            .unwrap();
        let ids: Vec<&str> = next
            .sessions
            .iter()
            .map(|s| s.session_id.as_str())
            .collect();
        assert_eq!(ids, [live[0].as_str()], "{backend:?}");
        // Far past the access-token lifetime the old revocations no longer matter.
        app.clock.advance(chrono::Duration::hours(1));
        let mut stream = auth
            .watch_revoked_sessions(as_mesh(pb::WatchRevokedSessionsRequest {}))
            .await
            .unwrap()
            .into_inner();
        let first = stream.message().await.unwrap().unwrap();
        assert!(first.sessions.is_empty(), "{backend:?}: {first:?}");
    }
}
