//! Calls to other services of the mesh, authenticated as a mesh service: config (form
//! token verification, product versions) and uam (enabled agents, user lookups). Errors
//! are mapped here to the lead service's own, so nothing upstream leaks to the public.

use crate::convert;
use crate::domain::product::ProductVersion;
use crate::error::LeadError;
use chrono::{DateTime, Utc};
use lms_platform::error::ApiError;
use lms_platform::grpc_client::MeshChannel;
use lms_proto::config::v1 as cfg;
use lms_proto::config::v1::product_service_client::ProductServiceClient;
use lms_proto::uam::v1 as uam;
use lms_proto::uam::v1::user_service_client::UserServiceClient;
use std::time::Duration;
use tonic::Code;

/// Deadline of every call to a peer.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// What a verified form token vouches for.
#[derive(Debug, Clone)]
pub struct FormToken {
    /// Product code.
    pub product_code: String,
    /// Configuration version.
    pub version: i32,
    /// Config hash.
    pub config_hash: String,
    /// Single-use nonce.
    pub nonce: String,
    /// Expiry.
    pub expire_time: DateTime<Utc>,
}

/// Clients of config and uam.
#[derive(Clone)]
pub struct Peers {
    config: ProductServiceClient<MeshChannel>,
    users: UserServiceClient<MeshChannel>,
}

fn request<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(CALL_TIMEOUT);
    r
}

fn upstream(service: &str, s: &tonic::Status) -> LeadError {
    tracing::warn!(peer = service, code = ?s.code(), message = s.message(), "peer call failed");
    LeadError::Upstream(ApiError::unavailable(format!(
        "the {service} service is unavailable; retry"
    )))
}

impl Peers {
    /// Clients over the runtime's mesh channels.
    pub fn new(rt: &lms_platform::Runtime) -> Self {
        Self {
            config: ProductServiceClient::new(rt.mesh(&rt.peers.config)),
            users: UserServiceClient::new(rt.mesh(&rt.peers.uam)),
        }
    }

    /// Verifies a form token with the config service.
    pub async fn verify_token(&self, signature: &str) -> Result<FormToken, LeadError> {
        let res = self
            .config
            .clone()
            .verify_form_token(request(cfg::VerifyFormTokenRequest {
                signature: signature.to_string(),
            }))
            .await;
        match res {
            Ok(r) => {
                let r = r.into_inner();
                let expire_time = r
                    .expire_time
                    .as_ref()
                    .and_then(|t| convert::instant(t, "expireTime").ok())
                    .ok_or(LeadError::InvalidFormSignature)?;
                Ok(FormToken {
                    product_code: r.product_code,
                    version: r.version,
                    config_hash: r.config_hash,
                    nonce: r.nonce,
                    expire_time,
                })
            }
            Err(s) => {
                let e = ApiError::from_status(&s);
                match (s.code(), e.reason.as_str()) {
                    (_, "FORM_SIGNATURE_EXPIRED") => Err(LeadError::FormSignatureExpired),
                    (_, "INVALID_SERVICE_KEY") => Err(upstream("config", &s)),
                    (
                        Code::Unauthenticated
                        | Code::InvalidArgument
                        | Code::FailedPrecondition
                        | Code::NotFound,
                        _,
                    ) => Err(LeadError::InvalidFormSignature),
                    _ => Err(upstream("config", &s)),
                }
            }
        }
    }

    /// Fetches and compiles one product version by config hash.
    pub async fn product_version(
        &self,
        product_code: &str,
        config_hash: &str,
    ) -> Result<ProductVersion, LeadError> {
        let res = self
            .config
            .clone()
            .get_product_version(request(cfg::GetProductVersionRequest {
                product_code: product_code.to_string(),
                selector: Some(cfg::get_product_version_request::Selector::ConfigHash(
                    config_hash.to_string(),
                )),
            }))
            .await;
        let product = match res {
            Ok(r) => r.into_inner().product.ok_or(LeadError::ConfigHashUnknown)?,
            Err(s) if matches!(s.code(), Code::NotFound | Code::InvalidArgument) => {
                return Err(LeadError::ConfigHashUnknown);
            }
            Err(s) => return Err(upstream("config", &s)),
        };
        if product.product_code != product_code || product.config_hash != config_hash {
            return Err(LeadError::ConfigHashUnknown);
        }
        convert::product_version(&product).map_err(|e| {
            tracing::error!(product = product_code, error = %e, "stored product version does not compile");
            LeadError::Upstream(ApiError::new(
                Code::FailedPrecondition,
                "PRODUCT_CONFIG_BROKEN",
                "this product's configuration cannot be used; contact the site owner",
            ))
        })
    }

    /// Ids of every enabled agent, in uam's order (creation).
    pub async fn enabled_agents(&self) -> Result<Vec<String>, LeadError> {
        let mut ids = Vec::new();
        let mut token = String::new();
        for _ in 0..100 {
            let res = self
                .users
                .clone()
                .list_users(request(uam::ListUsersRequest {
                    page_size: 100,
                    page_token: token.clone(),
                    page_number: 0,
                    role: uam::Role::Agent as i32,
                    enabled_only: true,
                }))
                .await
                .map_err(|s| upstream("uam", &s))?
                .into_inner();
            ids.extend(
                res.users
                    .into_iter()
                    .filter(|u| u.enabled && u.roles.contains(&(uam::Role::Agent as i32)))
                    .map(|u| u.id),
            );
            if res.next_page_token.is_empty() {
                break;
            }
            token = res.next_page_token;
        }
        Ok(ids)
    }

    /// True when `id` names an enabled user.
    pub async fn user_enabled(&self, id: &str) -> Result<bool, LeadError> {
        match self
            .users
            .clone()
            .get_user(request(uam::GetUserRequest { id: id.to_string() }))
            .await
        {
            Ok(r) => Ok(r.into_inner().user.is_some_and(|u| u.enabled)),
            Err(s) if matches!(s.code(), Code::NotFound | Code::InvalidArgument) => Ok(false),
            Err(s) => Err(upstream("uam", &s)),
        }
    }
}
