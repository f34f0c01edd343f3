//! Boots uam against a fresh database and offers small request helpers.

use chrono::Utc;
use lms_platform::ApiError;
use lms_platform::auth::Role;
use lms_platform::clock::ManualClock;
use lms_platform::db::{Db, PoolConfig};
use lms_platform::runtime::PeerUrls;
use lms_proto::uam::v1 as pb;
use lms_proto::uam::v1::auth_service_client::AuthServiceClient;
use lms_proto::uam::v1::user_service_client::UserServiceClient;
use lms_testkit::{Backend, TestDb};
use lms_uam::{Config, NewUser};
use std::sync::Arc;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// The password of every account `App::user` creates.
pub const PASSWORD: &str = "a perfectly fine passphrase";

/// A running uam and its clients.
pub struct App {
    pub auth: AuthServiceClient<Channel>,
    pub users: UserServiceClient<Channel>,
    pub clock: ManualClock,
    pub db: Db,
    pub data_dir: tempfile::TempDir,
    _test_db: TestDb,
}

impl App {
    /// uam with test defaults: a generous per-IP limit (tests that exercise it use the
    /// production defaults).
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |c| {
            c.ip_attempts_burst = 10_000;
            c.ip_attempts_per_minute = 10_000;
        })
        .await
    }

    /// uam with a configuration tweak.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full(backend, PoolConfig::default(), tweak).await
    }

    /// uam (test defaults) whose pool holds up to `max_connections`.
    pub async fn spawn_with_pool(backend: Backend, max_connections: u32) -> Self {
        let pool = PoolConfig {
            max_connections,
            ..PoolConfig::default()
        };
        Self::spawn_full(backend, pool, |c| {
            c.ip_attempts_burst = 10_000;
            c.ip_attempts_per_minute = 10_000;
        })
        .await
    }

    /// uam with pool settings and a configuration tweak.
    pub async fn spawn_full(
        backend: Backend,
        pool: PoolConfig,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let test_db = TestDb::new(backend).await.unwrap();
        let db = Db::connect(&test_db.url, "uam", &pool).await.unwrap();
        lms_uam::migrate(&db).await.unwrap();
        let (listener, addr) = lms_testkit::listener().await.unwrap();
        let url = lms_testkit::url(addr);
        let clock = ManualClock::new(Utc::now() - chrono::Duration::minutes(5));
        let data_dir = tempfile::tempdir().unwrap();
        let rt = lms_testkit::runtime(
            PeerUrls {
                uam: url.clone(),
                ..Default::default()
            },
            Arc::new(clock.clone()),
            data_dir.path().to_path_buf(),
        )
        .unwrap();
        let mut cfg = Config::default();
        tweak(&mut cfg);
        let routes = lms_uam::build(&cfg, db.clone(), &rt).await.unwrap();
        lms_testkit::serve(listener, routes, lms_uam::SERVICE_NAMES, &rt);
        let channel = tonic::transport::Endpoint::from_shared(url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            auth: AuthServiceClient::new(channel.clone()),
            users: UserServiceClient::new(channel),
            clock,
            db,
            data_dir,
            _test_db: test_db,
        }
    }

    /// Creates an account directly (as `lms admin create-user` does).
    pub async fn user(&self, username: &str, roles: &[Role]) -> pb::User {
        let u = lms_uam::create_user(
            &self.db,
            &self.clock,
            NewUser {
                username: username.to_string(),
                email: format!("{username}@example.com"),
                password: PASSWORD.to_string(),
                first_name: "First".to_string(),
                last_name: "Last".to_string(),
                roles: roles.to_vec(),
            },
        )
        .await
        .unwrap();
        lms_uam::convert::user_to_proto(u)
    }

    /// Logs in and returns the tokens (panics on an MFA challenge or an error).
    pub async fn login(&self, login: &str, password: &str) -> pb::TokenPair {
        match self.try_login(login, password).await.unwrap() {
            pb::login_response::Result::Tokens(t) => t,
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    /// Logs in and returns the MFA token (panics otherwise).
    pub async fn login_mfa(&self, login: &str, password: &str) -> String {
        match self.try_login(login, password).await.unwrap() {
            pb::login_response::Result::Mfa(m) => m.mfa_token,
            other => panic!("expected an MFA challenge, got {other:?}"),
        }
    }

    /// Logs in; the raw outcome.
    pub async fn try_login(
        &self,
        login: &str,
        password: &str,
    ) -> Result<pb::login_response::Result, Status> {
        let r = self
            .auth
            .clone()
            .login(pb::LoginRequest {
                username_or_email: login.to_string(),
                password: password.to_string(),
            })
            .await?;
        Ok(r.into_inner().result.unwrap())
    }

    /// A new admin, signed in: its access token.
    pub async fn admin_token(&self) -> String {
        self.user("admin", &[Role::Admin]).await;
        self.login("admin", PASSWORD).await.access_token
    }

    /// Refreshes a token.
    pub async fn refresh(&self, rt: &str) -> Result<pb::TokenPair, Status> {
        let r = self
            .auth
            .clone()
            .refresh_token(pb::RefreshTokenRequest {
                refresh_token: rt.to_string(),
            })
            .await?;
        Ok(r.into_inner().tokens.unwrap())
    }

    /// GetCurrentUser with a bearer token.
    pub async fn me(&self, token: &str) -> Result<pb::User, Status> {
        let r = self
            .users
            .clone()
            .get_current_user(bearer(pb::GetCurrentUserRequest {}, token))
            .await?;
        Ok(r.into_inner().user.unwrap())
    }
}

/// A request with `authorization: Bearer <token>`.
pub fn bearer<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// A request that claims to come from `ip` through the (trusted) loopback proxy.
pub fn from_ip<T>(msg: T, ip: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("x-forwarded-for", ip.parse().unwrap());
    r
}

/// Asserts the code and reason of a failed call.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, reason: &str) -> ApiError {
    let status = r.expect_err("expected an error");
    let e = ApiError::from_status(&status);
    assert_eq!((e.code, e.reason.as_str()), (code, reason), "{e}");
    e
}

/// A register request with valid fields.
pub fn register_req(username: &str, password: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        username: username.to_string(),
        email: format!("{username}@example.com"),
        password: password.to_string(),
        first_name: "Jane".to_string(),
        last_name: "Doe".to_string(),
        roles: vec![],
    }
}

/// The TOTP code of the clock's current step (offset by `steps`) for a base32 secret.
pub fn code(app: &App, secret_b32: &str, username: &str, steps: i64) -> String {
    use lms_platform::Clock;
    use lms_uam::domain::totp;
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .unwrap();
    let g = totp::generator(&bytes, username).unwrap();
    totp::code_at(&g, totp::step_of(app.clock.now().timestamp()) + steps)
}

/// Moves the clock to the start of the next 30 s step (plus one second).
pub fn next_step(app: &App) {
    use lms_platform::Clock;
    let t = app.clock.now().timestamp();
    let to_boundary = 30 - t.rem_euclid(30) + 1;
    app.clock.advance(chrono::Duration::seconds(to_boundary));
}
