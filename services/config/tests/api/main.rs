//! Integration tests of the config service: the real service on port 0, real gRPC, on
//! SQLite and PostgreSQL (`LMS_TEST_BACKENDS` narrows it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod products;
mod render;
mod roles;
mod tokens;
mod validation;
