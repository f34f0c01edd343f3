//! Verifies access tokens with UAM's public keys, fetched over gRPC and cached, and
//! refuses those of sessions UAM reports revoked (`AuthService.WatchRevokedSessions`).

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
/// A revoked session is remembered this long: longer than any access token lives (uam
/// accepts an access-token lifetime of at most 3,600 s), plus the leeway, plus a margin.
const FORGET_REVOKED_AFTER: Duration = Duration::from_secs(3_600 + LEEWAY_SECS + 300);
/// Longest wait between attempts to (re)subscribe to revocations.
const MAX_WATCH_BACKOFF: Duration = Duration::from_secs(10);

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
    /// Revoked session ids and when to forget them.
    revoked: std::sync::RwLock<HashMap<String, Instant>>,
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
            revoked: std::sync::RwLock::new(HashMap::new()),
        })
    }

    /// Refuses from now on the access tokens of these sessions (their `sid`).
    pub fn revoke_sessions(&self, ids: impl IntoIterator<Item = String>) {
        let now = Instant::now();
        let mut revoked = self
            .revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        revoked.retain(|_, forget| *forget > now);
        for id in ids {
            revoked.insert(id, now + FORGET_REVOKED_AFTER);
        }
    }

    fn session_revoked(&self, sid: &str) -> bool {
        !sid.is_empty()
            && self
                .revoked
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains_key(sid)
    }

    /// Subscribes to UAM's revoked sessions over `channel` for as long as the verifier
    /// lives, resubscribing with back-off when the stream ends or UAM is unreachable
    /// (meanwhile tokens are still checked for signature and expiry). Needs a Tokio
    /// runtime; without one it does nothing.
    pub fn watch_revocations(self: &Arc<Self>, channel: crate::grpc_client::MeshChannel) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let verifier = Arc::downgrade(self);
        handle.spawn(async move {
            use lms_proto::uam::v1::{
                WatchRevokedSessionsRequest, auth_service_client::AuthServiceClient,
            };
            let mut backoff = Duration::from_millis(200);
            loop {
                if verifier.strong_count() == 0 {
                    return;
                }
                let mut client = AuthServiceClient::new(channel.clone());
                match client
                    .watch_revoked_sessions(WatchRevokedSessionsRequest {})
                    .await
                {
                    Ok(res) => {
                        let mut stream = res.into_inner();
                        loop {
                            match stream.message().await {
                                Ok(Some(batch)) => {
                                    let Some(v) = verifier.upgrade() else { return };
                                    let n = batch.sessions.len();
                                    v.revoke_sessions(
                                        batch.sessions.into_iter().map(|s| s.session_id),
                                    );
                                    if n > 0 {
                                        tracing::info!(count = n, "revoked sessions received");
                                    }
                                    backoff = Duration::from_millis(200);
                                }
                                Ok(None) => break,
                                Err(e) => {
                                    tracing::warn!(error = %e, "revoked-session feed lost");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "revoked-session feed unavailable; retrying");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_WATCH_BACKOFF);
            }
        });
    }

    /// Verifies an access token and returns its claims; every failure is the same
    /// UNAUTHENTICATED (`INVALID_TOKEN`).
    pub async fn verify_access(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = self.verify(token).await?;
        if claims.typ != TYP_ACCESS {
            return Err(invalid());
        }
        if self.session_revoked(&claims.sid) {
            // Debug, not info: whoever holds such a token could flood the logs with it.
            tracing::debug!(session_id = %claims.sid, "token of a revoked session refused");
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
            tracing::debug!(error = %e, "token rejected");
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
