//! Pure rules of user and access management: input validation, the password policy, the
//! login and TOTP throttling arithmetic, TOTP step matching and trusted-proxy addresses.
//! Nothing here does I/O, reads the clock or knows about SQL or gRPC.

pub mod net;
pub mod password;
pub mod throttle;
pub mod totp;
pub mod user;

pub use user::{NewUser, User};
