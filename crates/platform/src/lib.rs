//! `lms-platform`: the runtime every LMS service shares. It owns configuration loading,
//! telemetry, the gRPC server bootstrap (health, reflection, grpc-web, limits, auth
//! layer), access-token verification and the permission table, the error-code table
//! that maps reasons to gRPC codes and HTTP statuses, database connection and
//! migration for both backends, paging tokens, JSON/`Struct` conversion and the clock.
//! It holds no business rules: those live in each service's `domain` and `service`.

pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod grpc_client;
pub mod json;
pub mod paging;
pub mod runtime;
pub mod server;
pub mod telemetry;

pub use clock::{Clock, SystemClock};
pub use error::{ApiError, Violation};
pub use runtime::{PeerUrls, Peers, Runtime};
