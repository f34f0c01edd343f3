//! Conversions between the REST JSON shapes (camelCase, seed names, enum names without
//! their proto prefix) and the generated proto messages. Pure functions: no I/O.

pub mod enums;
pub mod lead;
pub mod product;
pub mod time;
pub mod user;
