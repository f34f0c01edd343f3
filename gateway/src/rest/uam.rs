//! `/uam/api/...`: sign-up, login (with the TOTP second step), refresh, logout, password
//! change, TOTP enrolment and user administration. Login, totp-login and refresh answer
//! the seed's envelope; everything else a bare object. Errors are the error JSON.

use super::AppState;
use super::page::{page_and_size, page_json};
use crate::body::{Fields, JsonBody, OptJsonBody};
use crate::convert::user::{
    envelope, mfa_json, register_request, tokens_json, update_user_request, user_json,
};
use crate::error::RestError;
use crate::query::{Params, Segment};
use crate::upstream::Caller;
use axum::Json;
use axum::extract::State;
use lms_proto::uam::v1 as pb;
use pb::auth_service_client::AuthServiceClient;
use pb::user_service_client::UserServiceClient;
use serde_json::{Value, json};

type JsonResult = Result<Json<Value>, RestError>;

fn auth(s: &AppState) -> AuthServiceClient<tonic::transport::Channel> {
    AuthServiceClient::new(s.up.uam.clone())
}

fn users(s: &AppState) -> UserServiceClient<tonic::transport::Channel> {
    UserServiceClient::new(s.up.uam.clone())
}

fn user_of(u: Option<pb::User>) -> JsonResult {
    u.map(|u| Json(user_json(&u)))
        .ok_or_else(|| RestError::bad_upstream("an answer without its user"))
}

fn tokens_of(t: Option<pb::TokenPair>) -> Result<Value, RestError> {
    t.map(|t| tokens_json(&t))
        .ok_or_else(|| RestError::bad_upstream("an answer without tokens"))
}

/// Reads a body that has only `code`.
fn code_of(body: serde_json::Map<String, Value>) -> Result<String, RestError> {
    let mut f = Fields::new(body, "");
    let code = f.string("code").unwrap_or_default();
    f.finish()?;
    Ok(code)
}

/// `POST /uam/api/auth/register`: the bare User (200).
pub async fn register(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut f = Fields::new(body, "");
    let req = register_request(&mut f);
    f.finish()?;
    let res = auth(&s).register(caller.request(req)).await?.into_inner();
    user_of(res.user)
}

/// `POST /uam/api/auth/login`: the envelope with tokens or the MFA challenge.
pub async fn login(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut f = Fields::new(body, "");
    let req = pb::LoginRequest {
        username_or_email: f.string("usernameOrEmail").unwrap_or_default(),
        password: f.string("password").unwrap_or_default(),
    };
    f.finish()?;
    let res = auth(&s).login(caller.anonymous(req)).await?.into_inner();
    let data = match res.result {
        Some(pb::login_response::Result::Tokens(t)) => tokens_json(&t),
        Some(pb::login_response::Result::Mfa(m)) => mfa_json(&m),
        None => return Err(RestError::bad_upstream("login without a result")),
    };
    Ok(Json(envelope("Authentication successful", data)))
}

/// `POST /uam/api/auth/totp-login`: `Authorization: Bearer <mfaToken>` (or `mfaToken` in
/// the body) and `{code}`; the envelope with tokens.
pub async fn totp_login(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut f = Fields::new(body, "");
    let code = f.string("code").unwrap_or_default();
    let body_token = f.string("mfaToken");
    f.finish()?;
    let mfa_token = match (caller.bearer(), body_token) {
        (Some(h), _) => h.to_string(),
        (None, Some(b)) => b,
        (None, None) => {
            return Err(RestError::field(
                "Authorization",
                "send the mfaToken from login as `Authorization: Bearer <mfaToken>`",
            ));
        }
    };
    let req = pb::TotpLoginRequest { mfa_token, code };
    let res = auth(&s)
        .totp_login(caller.anonymous(req))
        .await?
        .into_inner();
    Ok(Json(envelope(
        "Authentication successful",
        tokens_of(res.tokens)?,
    )))
}

/// `POST /uam/api/auth/refresh?refreshToken=...` (as the seed) or with `{refreshToken}`:
/// the envelope with the new pair. The query string is never logged.
pub async fn refresh(
    State(s): State<AppState>,
    caller: Caller,
    mut q: Params,
    OptJsonBody(body): OptJsonBody,
) -> JsonResult {
    let in_query = q.one("refreshToken");
    q.finish()?;
    let in_body = match body {
        Some(b) => {
            let mut f = Fields::new(b, "");
            let t = f.string("refreshToken");
            f.finish()?;
            t
        }
        None => None,
    };
    let refresh_token = match (in_query, in_body) {
        (Some(a), Some(b)) if a != b => {
            return Err(RestError::field(
                "refreshToken",
                "given twice (query and body) with different values",
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Err(RestError::field("refreshToken", "is required")),
    };
    let req = pb::RefreshTokenRequest { refresh_token };
    let res = auth(&s)
        .refresh_token(caller.anonymous(req))
        .await?
        .into_inner();
    Ok(Json(envelope(
        "Token refresh successful",
        tokens_of(res.tokens)?,
    )))
}

/// `POST /uam/api/auth/change-password` `{currentPassword, newPassword, refreshToken?}`:
/// `{message, revokedSessions}`.
pub async fn change_password(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut f = Fields::new(body, "");
    let req = pb::ChangePasswordRequest {
        current_password: f.string("currentPassword").unwrap_or_default(),
        new_password: f.string("newPassword").unwrap_or_default(),
        refresh_token: f.string("refreshToken").unwrap_or_default(),
    };
    f.finish()?;
    let res = auth(&s)
        .change_password(caller.request(req))
        .await?
        .into_inner();
    Ok(Json(json!({
        "message": "Password changed successfully",
        "revokedSessions": res.revoked_sessions,
    })))
}

/// `POST /uam/api/auth/logout` `{refreshToken?}`: `{message, revokedSessions}`.
pub async fn logout(
    State(s): State<AppState>,
    caller: Caller,
    OptJsonBody(body): OptJsonBody,
) -> JsonResult {
    let mut f = Fields::new(body.unwrap_or_default(), "");
    let req = pb::LogoutRequest {
        refresh_token: f.string("refreshToken").unwrap_or_default(),
    };
    f.finish()?;
    let res = auth(&s).logout(caller.request(req)).await?.into_inner();
    Ok(Json(json!({
        "message": "Logged out",
        "revokedSessions": res.revoked_sessions,
    })))
}

/// `POST /uam/api/auth/totp/setup`: `{secret, otpauthUri}`.
pub async fn totp_setup(
    State(s): State<AppState>,
    caller: Caller,
    OptJsonBody(body): OptJsonBody,
) -> JsonResult {
    Fields::new(body.unwrap_or_default(), "").finish()?;
    let res = auth(&s)
        .setup_totp(caller.request(pb::SetupTotpRequest {}))
        .await?
        .into_inner();
    Ok(Json(
        json!({"secret": res.secret, "otpauthUri": res.otpauth_uri}),
    ))
}

/// `POST /uam/api/auth/totp/enable` `{code}`: the User.
pub async fn totp_enable(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let req = pb::EnableTotpRequest {
        code: code_of(body)?,
    };
    let res = auth(&s)
        .enable_totp(caller.request(req))
        .await?
        .into_inner();
    user_of(res.user)
}

/// `POST /uam/api/auth/totp/disable` `{code}`: the User.
pub async fn totp_disable(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let req = pb::DisableTotpRequest {
        code: code_of(body)?,
    };
    let res = auth(&s)
        .disable_totp(caller.request(req))
        .await?
        .into_inner();
    user_of(res.user)
}

/// `GET /uam/api/users/me`: the caller's User.
pub async fn me(State(s): State<AppState>, caller: Caller, q: Params) -> JsonResult {
    q.finish()?;
    let res = users(&s)
        .get_current_user(caller.request(pb::GetCurrentUserRequest {}))
        .await?
        .into_inner();
    user_of(res.user)
}

/// `GET /uam/api/users?page&size`: a page of Users (ADMIN, MANAGER).
pub async fn list_users(State(s): State<AppState>, caller: Caller, mut q: Params) -> JsonResult {
    let (page, size) = page_and_size(&mut q);
    q.finish()?;
    let req = pb::ListUsersRequest {
        page_size: i32::try_from(size).unwrap_or(20),
        page_number: i32::try_from(page).unwrap_or(0),
        ..Default::default()
    };
    let res = users(&s)
        .list_users(caller.request(req))
        .await?
        .into_inner();
    let content = res.users.iter().map(user_json).collect();
    Ok(Json(page_json(content, res.total_size, page, size)))
}

/// `PUT /uam/api/users/{id}` `{roles?, enabled?}`: the updated User (ADMIN).
pub async fn update_user(
    State(s): State<AppState>,
    caller: Caller,
    Segment(id): Segment,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut f = Fields::new(body, "");
    let req = update_user_request(id, &mut f);
    f.finish()?;
    let res = users(&s)
        .update_user(caller.request(req))
        .await
        .map_err(|status| {
            // uam names fields of its `user` message (`user.roles`); the body's are bare.
            let mut e = RestError::from(status);
            for v in &mut e.0.violations {
                if let Some(bare) = v.field.strip_prefix("user.") {
                    v.field = bare.to_string();
                }
            }
            e
        })?
        .into_inner();
    user_of(res.user)
}
