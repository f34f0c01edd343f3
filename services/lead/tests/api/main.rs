//! Integration tests of the lead service: real uam, config and lead servers on port 0,
//! each on its own fresh database of the backend under test (SQLite and PostgreSQL;
//! `LMS_TEST_BACKENDS` narrows it), real gRPC, real tokens. The shared clock is a
//! `ManualClock` started five minutes in the past, so uam's tokens verify against the
//! system clock while tests may move config's notion of time forward.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::type_complexity
)]

mod bulk;
mod events;
mod helpers;
mod keys;
mod perf;
mod query;
mod submit;
mod update;
