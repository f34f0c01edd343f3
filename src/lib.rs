//! `lms`: the library behind the single `lms` binary. It owns the system-wide
//! configuration ([`settings::LmsConfig`]) and the composition of services: all of them
//! plus the gateway in one process (the embedded default), or one per process
//! (`--only <svc>`, the distributed mode). It holds no business logic: each service crate
//! builds its own routes, and this crate only wires databases, keys, peers and listeners.

pub mod admin;
pub mod mesh;
pub mod settings;
