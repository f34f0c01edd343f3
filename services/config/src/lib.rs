//! `lms-config`: the product-configuration service. It owns products and their
//! immutable configuration versions (form JSON Schema, dictionaries, scoring rules,
//! settings, styling, each version hashed over its RFC 8785 canonical JSON), the
//! form-signing keys, the public render package with its signed form token (codec in
//! `lms-formtoken`), token verification (`VerifyFormToken`) and the verification keys
//! for mesh services (`GetFormVerificationKeys`, with which the lead service checks
//! tokens itself). It serves `lms.config.v1.ProductService` and
//! registers `DocumentService`, whose RPCs answer UNIMPLEMENTED until documents land.
//!
//! It must not score leads or store form data (the lead service does, with
//! `lms-scoring`), never puts scoring rules or private settings into a render package,
//! never consumes form-token nonces (single use is enforced by the lead service), and
//! never hands its keys to anyone but the mesh's own services.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod cache;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod keys;
pub mod service;
pub mod store;

pub use config::Config;

use lms_platform::db::Db;
use lms_proto::config::v1::document_service_server::DocumentServiceServer;
use lms_proto::config::v1::product_service_server::ProductServiceServer;
use std::sync::Arc;
use std::time::Duration;

/// Fully qualified gRPC service names served (for health).
pub const SERVICE_NAMES: &[&str] = &[
    "lms.config.v1.ProductService",
    "lms.config.v1.DocumentService",
];

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/config/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/config/sqlite");

/// Runs this service's migrations for the pool's backend.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate(&POSTGRES, &SQLITE).await
}

/// Builds the service's gRPC routes (health/reflection are added by the server). Fails
/// when no form-signing key is available (see [`keys::load`]).
pub async fn build(
    cfg: &Config,
    db: Db,
    rt: &lms_platform::Runtime,
) -> anyhow::Result<tonic::service::Routes> {
    cfg.validate()?;
    let keys = keys::load(cfg, &rt.data_dir, rt.embedded)?;
    let ttl = i64::try_from(cfg.form_token_ttl_secs)?;
    let products = Arc::new(service::Products::new(
        store::Store::new(db),
        cache::Cache::new(Duration::from_millis(cfg.latest_cache_ttl_ms)),
        keys,
        rt.clock.clone(),
        ttl,
    ));
    let routes =
        tonic::service::Routes::new(ProductServiceServer::new(grpc::ProductGrpc::new(products)))
            .add_service(DocumentServiceServer::new(grpc::DocumentGrpc));
    Ok(routes)
}
