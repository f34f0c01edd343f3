//! `lms-uam`: user and access management. It owns accounts, roles, argon2id password
//! hashes, login throttling (per account in the database, per client IP in memory),
//! refresh-token families, TOTP secrets and the Ed25519 key that signs access tokens,
//! and serves `lms.uam.v1.AuthService` and `lms.uam.v1.UserService`. Every other service
//! verifies access tokens with the public keys from `GetSigningKeys`; none reads uam's
//! tables. It must not log passwords, tokens, codes or secrets, and must not read the
//! system clock directly (the injected clock drives token and TOTP times).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod service;
pub mod store;

pub use config::Config;
pub use domain::{NewUser, User};

use lms_platform::clock::Clock;
use lms_platform::db::Db;
use lms_platform::{ApiError, Runtime};
use lms_proto::uam::v1::auth_service_server::AuthServiceServer;
use lms_proto::uam::v1::user_service_server::UserServiceServer;
use std::sync::Arc;
use std::time::Duration;

/// Fully qualified gRPC service names served (for health).
pub const SERVICE_NAMES: &[&str] = &["lms.uam.v1.AuthService", "lms.uam.v1.UserService"];

static PG: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/uam/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/uam/sqlite");

/// Runs this service's migrations for the pool's backend.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate(&PG, &SQLITE).await
}

/// Builds the service's gRPC routes (health/reflection are added by
/// `lms_platform::server::serve`). Fails when the configuration is invalid or no signing
/// key is available (see `Config::signing_key_file`).
pub async fn build(cfg: &Config, db: Db, rt: &Runtime) -> anyhow::Result<tonic::service::Routes> {
    cfg.validate()?;
    let keys =
        service::SigningKeys::load(cfg.signing_key_file.as_deref(), &rt.data_dir, rt.embedded)?;
    tracing::info!(kid = %keys.public().kid, "uam signing key loaded");
    let svc = Arc::new(service::UamService::new(
        cfg,
        store::Store::new(db),
        keys,
        rt.clock.clone(),
    ));
    let warm = svc.clone();
    tokio::spawn(async move { warm.warm_up().await });
    Ok(
        tonic::service::Routes::new(AuthServiceServer::new(grpc::UamAuthGrpc::new(
            svc.clone(),
            rt.stopped(),
        )))
        .add_service(UserServiceServer::new(grpc::UamUserGrpc::new(svc))),
    )
}

/// True when an enabled ADMIN account exists (so `lms serve` knows whether to tell a
/// first-time operator how to create one).
pub async fn has_admin(db: &Db) -> anyhow::Result<bool> {
    let filter = store::ListFilter {
        role: Some(lms_platform::auth::Role::Admin),
        enabled_only: true,
        after: None,
        offset: 0,
        limit: 1,
    };
    let (_, total) = store::Store::new(db.clone()).list_users(&filter).await?;
    Ok(total > 0)
}

/// Creates an account without a caller check (for `lms admin create-user`), with the
/// same validation, duplicate checks and hashing as Register. Roles default to AGENT.
pub async fn create_user(db: &Db, clock: &dyn Clock, input: NewUser) -> Result<User, ApiError> {
    let store = store::Store::new(db.clone());
    let hasher = service::hasher::Hasher::new(1, Duration::from_secs(30));
    service::create_user_with(&store, &hasher, clock, input)
        .await
        .map_err(ApiError::from)
}
