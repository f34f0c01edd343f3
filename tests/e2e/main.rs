//! End-to-end tests of the real `lms` binary: it is started as a child process on fresh
//! data (SQLite) or a fresh PostgreSQL database, and driven through the gateway's REST
//! API and the real grpcurl, as a user and an operator would.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod auth_flows;
mod distributed;
mod grpcurl;
mod real_input;
mod shutdown;
mod support;
mod traces;
