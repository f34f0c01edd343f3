//! Verifies access tokens with UAM's public keys, fetched over gRPC and cached.

use super::{AUDIENCE, Claims, ISSUER, TYP_ACCESS};
use crate::error::ApiError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Allowed clock skew on `exp`/`nbf`, in seconds (security.md: at most 30).
pub const LEEWAY_SECS: u64 = 30;
/// Unknown `kid`s trigger at most one key refresh per this interval.
const REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// Where verification keys come from: `(kid, base64url Ed25519 public key)`.
#[tonic::async_trait]
pub trait KeySource: Send + Sync + 'static {
    /// Fetches the current keys.
    async fn fetch(&self) -> anyhow::Result<Vec<(String, String)>>;
}

/// Fetches keys from UAM's `GetSigningKeys`.
pub struct UamKeySource {
    channel: tonic::transport::Channel,
}

impl UamKeySource {
    /// Uses this channel to UAM.
    pub fn new(channel: tonic::transport::Channel) -> Self {
        Self { channel }
    }
}

#[tonic::async_trait]
impl KeySource for UamKeySource {
    async fn fetch(&self) -> anyhow::Result<Vec<(String, String)>> {
        use lms_proto::uam::v1::{GetSigningKeysRequest, auth_service_client::AuthServiceClient};
        let mut client = AuthServiceClient::new(self.channel.clone());
        let mut req = tonic::Request::new(GetSigningKeysRequest {});
        req.set_timeout(Duration::from_secs(3));
        let keys = client.get_signing_keys(req).await?.into_inner().keys;
        Ok(keys.into_iter().map(|k| (k.kid, k.public_key)).collect())
    }
}

/// A fixed key set (UAM itself, tests).
pub struct StaticKeys(pub Vec<(String, String)>);

#[tonic::async_trait]
impl KeySource for StaticKeys {
    async fn fetch(&self) -> anyhow::Result<Vec<(String, String)>> {
        Ok(self.0.clone())
    }
}

struct Cache {
    keys: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

/// Verifies LMS access tokens: exactly EdDSA, known `kid`, issuer, audience, `exp`, `nbf`
/// and `typ` = access.
pub struct JwtVerifier {
    source: Box<dyn KeySource>,
    cache: RwLock<Cache>,
}

impl JwtVerifier {
    /// Creates a verifier over a key source; keys are fetched on first use.
    pub fn new(source: impl KeySource) -> Arc<Self> {
        Arc::new(Self {
            source: Box::new(source),
            cache: RwLock::new(Cache {
                keys: HashMap::new(),
                fetched: None,
            }),
        })
    }

    /// Verifies an access token and returns its claims; every failure is the same
    /// UNAUTHENTICATED (`INVALID_TOKEN`).
    pub async fn verify_access(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = self.verify(token).await?;
        if claims.typ != TYP_ACCESS {
            return Err(invalid());
        }
        Ok(claims)
    }

    /// Verifies any LMS token (signature, issuer, times) without checking `typ`.
    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        if token.len() > 8 * 1024 {
            return Err(invalid());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA || header.jku.is_some() || header.jwk.is_some() {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = match self.key(&kid).await {
            Some(k) => k,
            None => {
                self.refresh_if_stale().await;
                self.key(&kid).await.ok_or_else(invalid)?
            }
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            tracing::info!(error = %e, "token rejected");
            invalid()
        })?;
        Ok(data.claims)
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.cache.read().await.keys.get(kid).cloned()
    }

    async fn refresh_if_stale(&self) {
        let mut cache = self.cache.write().await;
        if cache
            .fetched
            .is_some_and(|t| t.elapsed() < REFRESH_INTERVAL)
        {
            return;
        }
        cache.fetched = Some(Instant::now());
        match self.source.fetch().await {
            Ok(keys) => {
                let mut map = HashMap::new();
                for (kid, x) in keys {
                    match DecodingKey::from_ed_components(&x) {
                        Ok(k) => {
                            map.insert(kid, k);
                        }
                        Err(e) => tracing::warn!(%kid, error = %e, "bad signing key"),
                    }
                }
                cache.keys = map;
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching signing keys failed");
                // Retry sooner than the usual interval when the source was down.
                cache.fetched = None;
            }
        }
    }
}

fn invalid() -> ApiError {
    ApiError::unauthenticated("INVALID_TOKEN")
}
