//! Calls to other services of the mesh, authenticated as a mesh service: config (the
//! form-token verification keys, product versions) and uam (enabled agents, user
//! lookups). Errors are mapped here to the lead service's own, so nothing upstream leaks
//! to the public.

use crate::convert;
use crate::domain::product::ProductVersion;
use crate::error::LeadError;
use lms_formtoken::{FormKeys, SigningKey};
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

/// The keys that verify form tokens, as config hands them out.
#[derive(Debug, Clone)]
pub struct FormKeySet {
    /// The key ring (secret).
    pub keys: FormKeys,
    /// Token lifetime, seconds (positive).
    pub ttl_secs: i64,
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

    /// Fetches the form-token verification keys and the token lifetime from config. A
    /// failed call is tried once more at once (a restarted config leaves a dead
    /// connection behind that only the next call replaces); an unusable answer is an
    /// upstream error too: without keys no token can be trusted.
    pub async fn form_keys(&self) -> Result<FormKeySet, LeadError> {
        let mut res = self.fetch_form_keys().await;
        if res.is_err() {
            res = self.fetch_form_keys().await;
        }
        let r = res.map_err(|s| upstream("config", &s))?;
        let ttl_secs = r.token_ttl_seconds;
        let keys: Option<Vec<SigningKey>> = r
            .keys
            .iter()
            .map(|k| {
                let bytes = <[u8; lms_formtoken::KEY_BYTES]>::try_from(k.key.as_slice()).ok()?;
                SigningKey::new(&k.kid, bytes)
            })
            .collect();
        match keys.and_then(FormKeys::new) {
            Some(keys) if ttl_secs > 0 => Ok(FormKeySet { keys, ttl_secs }),
            _ => {
                tracing::error!(
                    keys = r.keys.len(),
                    ttl_secs,
                    "config answered unusable form verification keys"
                );
                Err(LeadError::Upstream(ApiError::unavailable(
                    "the config service is unavailable; retry",
                )))
            }
        }
    }

    async fn fetch_form_keys(&self) -> Result<cfg::GetFormVerificationKeysResponse, tonic::Status> {
        self.config
            .clone()
            .get_form_verification_keys(request(cfg::GetFormVerificationKeysRequest {}))
            .await
            .map(tonic::Response::into_inner)
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
            Err(s)
                if s.code() == Code::NotFound
                    && ApiError::from_status(&s).reason == "PRODUCT_NOT_FOUND" =>
            {
                return Err(LeadError::ProductNotFound);
            }
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
