//! `lms-lead`: the lead service. It owns leads (with their normalised form data, score
//! breakdowns and optimistic versions), the consumed form-token nonces, idempotency
//! records, the round-robin assignment cursor, and the lead event log that notify and
//! report consume through `LeadService.StreamEvents`. It serves `lms.lead.v1.LeadService`:
//! the public submission (checked cheapest first, one transaction per lead), queries with
//! agent visibility, updates, bulk updates, history and the event stream.
//!
//! It must not read another service's tables: product versions and the form-token
//! verification keys come from config, agents from uam, both over the mesh. It checks
//! form tokens itself (with `lms-formtoken` and config's keys, never a key of its own),
//! never logs or returns those keys, and never returns one visitor's data to another.

pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod peers;
pub mod service;
pub mod store;

pub use config::Config;

use lms_platform::db::Db;
use lms_proto::lead::v1::lead_service_server::LeadServiceServer;
use std::sync::Arc;

/// Fully qualified gRPC service names served (for health).
pub const SERVICE_NAMES: &[&str] = &["lms.lead.v1.LeadService"];

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/lead/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/lead/sqlite");

/// Runs this service's migrations for the pool's backend.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate(&POSTGRES, &SQLITE).await
}

/// Repairs the event sequencer after the database was copied logically to another
/// PostgreSQL server (see [`store::Store::repair_event_positions`]). Returns how many
/// events it numbered, or `None` when nothing needed repair.
pub async fn repair_event_positions(db: &Db) -> anyhow::Result<Option<u64>> {
    Ok(store::Store::new(db.clone())
        .repair_event_positions()
        .await?)
}

/// Builds the service's gRPC routes and starts its background tasks (the event
/// sequencer and the janitor) on the current runtime.
pub async fn build(
    cfg: &Config,
    db: Db,
    rt: &lms_platform::Runtime,
) -> anyhow::Result<tonic::service::Routes> {
    cfg.validate()?;
    let store = store::Store::new(db);
    let svc = Arc::new(service::LeadService::new(
        store
            .clone()
            .with_write_batches(cfg.write_batch_max, cfg.write_batch_writers),
        peers::Peers::new(rt),
        rt.clock.clone(),
        cfg.clone(),
    ));
    tokio::spawn(svc.hub().run_sequencer(store));
    tokio::spawn(service::run_janitor(svc.clone()));
    Ok(tonic::service::Routes::new(LeadServiceServer::new(
        grpc::LeadGrpc::new(svc),
    )))
}
