//! Thin tonic implementations of `lms.uam.v1.AuthService` (`UamAuthGrpc`) and
//! `lms.uam.v1.UserService` (`UamUserGrpc`): read the principal and client address,
//! convert, call the service, convert back. No business rules here.

mod auth;
mod users;

pub use auth::UamAuthGrpc;
pub use users::UamUserGrpc;
