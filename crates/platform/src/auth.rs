//! Access-token verification and authorization for every service.
//!
//! UAM signs access tokens (EdDSA, `kid` header); every service verifies them locally
//! with UAM's public keys, fetched over gRPC (`AuthService.GetSigningKeys`) and cached.
//! The [`AuthLayer`] runs before every handler: it looks the method up in the one
//! permission table ([`permissions`]), denies by default, and puts the caller's
//! [`Principal`] into the request extensions for the handler to read.
//! Calls between the mesh's own services carry the mesh key (`x-lms-service-key`) and
//! act as the `SERVICE` principal.

pub mod layer;
pub mod origin;
pub mod permissions;
pub mod verifier;

pub use layer::{AuthLayer, AuthState};
pub use origin::{origin_allowed, request_origin};
pub use permissions::{Policy, policy_for};
pub use verifier::{JwtVerifier, KeySource, LEEWAY_SECS, UamKeySource};

use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// Issuer of every LMS token.
pub const ISSUER: &str = "lms-uam";
/// Audience of access tokens.
pub const AUDIENCE: &str = "lms";
/// `typ` claim of access tokens.
pub const TYP_ACCESS: &str = "access";
/// `typ` claim of the pending-MFA token.
pub const TYP_MFA: &str = "mfa";
/// Metadata header that carries the mesh key on service-to-service calls.
pub const SERVICE_KEY_HEADER: &str = "x-lms-service-key";

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// Administrator.
    Admin,
    /// Manager.
    Manager,
    /// Sales agent.
    Agent,
}

impl Role {
    /// The role's name as in tokens and REST bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Manager => "MANAGER",
            Self::Agent => "AGENT",
        }
    }

    /// Parses `ADMIN`, `MANAGER` or `AGENT` (also with a `ROLE_` prefix).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().trim_start_matches("ROLE_") {
            "ADMIN" => Some(Self::Admin),
            "MANAGER" => Some(Self::Manager),
            "AGENT" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// Claims of LMS tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer, [`ISSUER`].
    pub iss: String,
    /// Audience, [`AUDIENCE`].
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Username.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Token type: [`TYP_ACCESS`] or [`TYP_MFA`].
    pub typ: String,
    /// Refresh-token family (session) the token belongs to; empty for MFA tokens.
    #[serde(default)]
    pub sid: String,
    /// Unique token id.
    pub jti: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expiry (seconds).
    pub exp: i64,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No (valid) credentials: only public methods.
    Anonymous,
    /// Another service of the mesh.
    Service,
    /// A signed-in user.
    User(UserPrincipal),
}

/// A signed-in user, from a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    /// User id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Session (refresh-token family) id.
    pub session_id: String,
}

impl UserPrincipal {
    /// True when the user has the role.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True for ADMIN or MANAGER: sees every lead.
    pub fn sees_all_leads(&self) -> bool {
        self.has(Role::Admin) || self.has(Role::Manager)
    }
}

impl Principal {
    /// The user, or UNAUTHENTICATED.
    pub fn user(&self) -> Result<&UserPrincipal, ApiError> {
        match self {
            Self::User(u) => Ok(u),
            _ => Err(ApiError::unauthenticated("UNAUTHENTICATED")),
        }
    }

    /// The user, if any.
    pub fn as_user(&self) -> Option<&UserPrincipal> {
        match self {
            Self::User(u) => Some(u),
            _ => None,
        }
    }

    /// True for an ADMIN user.
    pub fn is_admin(&self) -> bool {
        self.as_user().is_some_and(|u| u.has(Role::Admin))
    }
}

/// Reads the principal the [`AuthLayer`] attached to a request.
pub fn principal<T>(req: &tonic::Request<T>) -> Principal {
    req.extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or(Principal::Anonymous)
}
