//! UserService: current user, listing with filters and paging, administration.

use crate::helpers::*;
use lms_platform::auth::Role;
use lms_proto::uam::v1 as pb;
use lms_testkit::backends;
use tonic::{Code, Request};

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

fn update(id: &str, roles: &[pb::Role], enabled: bool, paths: &[&str]) -> pb::UpdateUserRequest {
    pb::UpdateUserRequest {
        user: Some(pb::User {
            id: id.to_string(),
            roles: roles.iter().map(|r| *r as i32).collect(),
            enabled,
            ..Default::default()
        }),
        update_mask: mask(paths),
    }
}

fn list(
    role: pb::Role,
    enabled_only: bool,
    size: i32,
    token: &str,
    number: i32,
) -> pb::ListUsersRequest {
    pb::ListUsersRequest {
        page_size: size,
        page_token: token.to_string(),
        page_number: number,
        role: role as i32,
        enabled_only,
    }
}

#[tokio::test]
async fn current_user_and_get_user() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let jane = app.user("jane", &[Role::Agent, Role::Manager]).await;
        let t = app.login("jane", PASSWORD).await;
        let me = app.me(&t.access_token).await.unwrap();
        assert_eq!(me, jane);
        assert_eq!(
            me.roles,
            vec![pb::Role::Manager as i32, pb::Role::Agent as i32]
        );
        assert!(me.create_time.is_some());
        let mut users = app.users.clone();
        let got = users
            .get_user(bearer(
                pb::GetUserRequest {
                    id: jane.id.clone(),
                },
                &t.access_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(got, jane);
        assert_err(
            users
                .get_user(bearer(
                    pb::GetUserRequest {
                        id: uuid::Uuid::new_v4().to_string(),
                    },
                    &t.access_token,
                ))
                .await,
            Code::NotFound,
            "USER_NOT_FOUND",
        );
        assert_err(
            users
                .get_user(bearer(
                    pb::GetUserRequest { id: "x".into() },
                    &t.access_token,
                ))
                .await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        // No token.
        let r = users.get_current_user(pb::GetCurrentUserRequest {}).await;
        assert_eq!(r.unwrap_err().code(), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn admin_lists_with_filters_and_paging() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let admin = app.admin_token().await;
        let mut agents = Vec::new();
        for i in 0..5 {
            app.clock.advance(chrono::Duration::milliseconds(10));
            agents.push(app.user(&format!("agent{i}"), &[Role::Agent]).await);
        }
        app.user("boss", &[Role::Manager]).await;
        let mut users = app.users.clone();
        users
            .update_user(bearer(
                update(&agents[1].id, &[], false, &["enabled"]),
                &admin,
            ))
            .await
            .unwrap();

        let all = users
            .list_users(bearer(list(pb::Role::Unspecified, false, 0, "", 0), &admin))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(all.total_size, 7);
        assert_eq!(all.users.len(), 7);
        assert_eq!(all.users[0].username, "admin");
        assert!(all.next_page_token.is_empty());

        // Keyset pages of 2 over the enabled agents.
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = users
                .list_users(bearer(list(pb::Role::Agent, true, 2, &token, 0), &admin))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(page.total_size, 4);
            seen.extend(page.users.into_iter().map(|u| u.username));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(seen, ["agent0", "agent2", "agent3", "agent4"]);
        // Offset paging.
        let p1 = users
            .list_users(bearer(list(pb::Role::Agent, false, 2, "", 1), &admin))
            .await
            .unwrap()
            .into_inner();
        let names: Vec<_> = p1.users.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(names, ["agent2", "agent3"]);
        assert_eq!(p1.total_size, 5);
        // Bad page size and token.
        assert_err(
            users
                .list_users(bearer(list(pb::Role::Agent, false, 101, "", 0), &admin))
                .await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_err(
            users
                .list_users(bearer(
                    list(pb::Role::Agent, false, 2, "garbage!", 0),
                    &admin,
                ))
                .await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );

        // The lead service's call: a mesh service listing enabled agents.
        let mut req = Request::new(list(pb::Role::Agent, true, 100, "", 0));
        req.metadata_mut().insert(
            lms_platform::auth::SERVICE_KEY_HEADER,
            lms_testkit::TEST_MESH_KEY.parse().unwrap(),
        );
        let mesh = users.list_users(req).await.unwrap().into_inner();
        assert_eq!(mesh.total_size, 4);
    }
}

#[tokio::test]
async fn admin_updates_roles_and_enabled_and_agents_may_not() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let admin = app.admin_token().await;
        let jane = app.user("jane", &[Role::Agent]).await;
        let jt = app.login("jane", PASSWORD).await;
        let mut users = app.users.clone();

        // Agents: denied by the permission table.
        let r = users
            .list_users(bearer(
                list(pb::Role::Unspecified, false, 0, "", 0),
                &jt.access_token,
            ))
            .await;
        assert_eq!(r.unwrap_err().code(), Code::PermissionDenied);
        let r = users
            .update_user(bearer(
                update(&jane.id, &[pb::Role::Admin], true, &["roles"]),
                &jt.access_token,
            ))
            .await;
        assert_eq!(r.unwrap_err().code(), Code::PermissionDenied);
        // Managers neither: the user list (e-mail addresses included) is the ADMIN's.
        app.user("mark", &[Role::Manager]).await;
        let mt = app.login("mark", PASSWORD).await;
        let r = users
            .list_users(bearer(
                list(pb::Role::Unspecified, false, 0, "", 0),
                &mt.access_token,
            ))
            .await;
        assert_eq!(r.unwrap_err().code(), Code::PermissionDenied);

        let u = users
            .update_user(bearer(
                update(
                    &jane.id,
                    &[pb::Role::Manager, pb::Role::Agent],
                    true,
                    &["roles"],
                ),
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(
            u.roles,
            vec![pb::Role::Manager as i32, pb::Role::Agent as i32]
        );
        assert!(u.enabled, "enabled not in the mask: unchanged");
        let t = app.login("jane", PASSWORD).await;
        assert_eq!(
            app.me(&t.access_token).await.unwrap().roles,
            u.roles,
            "new roles in new tokens"
        );

        for path in ["email", "username", "totp_enabled", "id"] {
            let e = assert_err(
                users
                    .update_user(bearer(update(&jane.id, &[], true, &[path]), &admin))
                    .await,
                Code::InvalidArgument,
                "FIELD_NOT_WRITABLE",
            );
            assert_eq!(e.violations[0].field, path);
        }
        assert_err(
            users
                .update_user(bearer(update(&jane.id, &[], true, &[]), &admin))
                .await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_err(
            users
                .update_user(bearer(update(&jane.id, &[], true, &["roles"]), &admin))
                .await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_err(
            users
                .update_user(bearer(
                    update(&uuid::Uuid::new_v4().to_string(), &[], false, &["enabled"]),
                    &admin,
                ))
                .await,
            Code::NotFound,
            "USER_NOT_FOUND",
        );
        // An admin cannot lock themselves out.
        let me = app.me(&admin).await.unwrap();
        assert_err(
            users
                .update_user(bearer(update(&me.id, &[], false, &["enabled"]), &admin))
                .await,
            Code::FailedPrecondition,
            "SELF_LOCKOUT",
        );

        // Disabling revokes every session and blocks login.
        let u = users
            .update_user(bearer(update(&jane.id, &[], false, &["enabled"]), &admin))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert!(!u.enabled);
        for rt in [&jt.refresh_token, &t.refresh_token] {
            assert_err(
                app.refresh(rt).await,
                Code::Unauthenticated,
                "INVALID_REFRESH_TOKEN",
            );
        }
        assert_err(
            app.try_login("jane", PASSWORD).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        // Her still-unexpired access token no longer reaches uam's own account RPCs.
        assert_eq!(
            app.me(&t.access_token).await.unwrap_err().code(),
            Code::Unauthenticated
        );
        users
            .update_user(bearer(update(&jane.id, &[], true, &["enabled"]), &admin))
            .await
            .unwrap();
        app.login("jane", PASSWORD).await;
    }
}
