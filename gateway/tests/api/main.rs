//! Integration tests of the gateway. What the gateway decides alone (limits, content
//! types, malformed JSON, routing, CORS, the OpenAPI document) runs against a gateway whose
//! upstreams are a closed port; everything else boots the real uam, config, lead, notify
//! and report on port 0 against fresh databases, on SQLite and PostgreSQL
//! (`LMS_TEST_BACKENDS` narrows it), with the gateway in front, and talks REST, native
//! gRPC and grpc-web to it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod front;
mod grpc;
mod helpers;
mod leads;
mod openapi;
mod products;
mod telemetry;
