//! Integration tests of uam: the real service on port 0, real gRPC (the auth layer
//! fetches the signing keys from the service itself), on SQLite and PostgreSQL
//! (`LMS_TEST_BACKENDS` narrows it). Time is a `ManualClock` started five minutes in
//! the past, so tests can move it forward by a few minutes and the platform verifier
//! (which checks `exp`/`nbf` against the system clock) still accepts fresh tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod login;
mod register;
mod sessions;
mod tokens;
mod totp;
mod users;
