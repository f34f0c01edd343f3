//! The tower layer that authenticates and authorizes every gRPC call before its handler.

use super::verifier::JwtVerifier;
use super::{Policy, Principal, Role, SERVICE_KEY_HEADER, UserPrincipal, policy_for};
use crate::error::ApiError;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::task::{Context, Poll};
use subtle::ConstantTimeEq;
use tonic::Status;

/// What the layer needs: the verifier and the mesh key.
pub struct AuthState {
    verifier: Arc<JwtVerifier>,
    mesh_key: SecretString,
}

impl AuthState {
    /// Creates the state.
    pub fn new(verifier: Arc<JwtVerifier>, mesh_key: SecretString) -> Arc<Self> {
        Arc::new(Self { verifier, mesh_key })
    }

    /// Decides whether a call to `path` with these headers may proceed, and as whom.
    pub async fn authorize(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Principal, ApiError> {
        let policy = policy_for(path)
            .ok_or_else(|| ApiError::forbidden("this method is not open to any caller"))?;
        let principal = self.identify(headers, policy).await?;
        match (policy, &principal) {
            (Policy::Public, _) => Ok(principal),
            (_, Principal::Anonymous) => Err(ApiError::unauthenticated("UNAUTHENTICATED")),
            (Policy::Authenticated, Principal::User(_)) => Ok(principal),
            (Policy::Roles(_), Principal::Service) | (Policy::Service, Principal::Service) => {
                Ok(principal)
            }
            (Policy::Roles(roles), Principal::User(u)) if roles_match(roles, u) => Ok(principal),
            _ => Err(ApiError::forbidden("your role may not call this method")),
        }
    }

    async fn identify(
        &self,
        headers: &http::HeaderMap,
        policy: Policy,
    ) -> Result<Principal, ApiError> {
        if let Some(key) = headers.get(SERVICE_KEY_HEADER) {
            let expected = self.mesh_key.expose_secret().as_bytes();
            if !expected.is_empty() && bool::from(key.as_bytes().ct_eq(expected)) {
                return Ok(Principal::Service);
            }
            return Err(ApiError::unauthenticated("INVALID_SERVICE_KEY"));
        }
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Ok(Principal::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let verified = match token {
            Some(t) => self.verifier.verify_access(t).await,
            None => Err(ApiError::unauthenticated("INVALID_TOKEN")),
        };
        match verified {
            Ok(c) => Ok(Principal::User(UserPrincipal {
                user_id: c.sub,
                username: c.name,
                roles: c.roles,
                session_id: c.sid,
            })),
            // A bad token on a public method (e.g. an expired one on Login) is ignored.
            Err(_) if policy == Policy::Public => Ok(Principal::Anonymous),
            Err(e) => Err(e),
        }
    }
}

fn roles_match(allowed: &[Role], u: &UserPrincipal) -> bool {
    u.roles.iter().any(|r| allowed.contains(r))
}

/// Tower layer running [`AuthState::authorize`] before the wrapped gRPC service.
#[derive(Clone)]
pub struct AuthLayer {
    state: Arc<AuthState>,
}

impl AuthLayer {
    /// Creates the layer.
    pub fn new(state: Arc<AuthState>) -> Self {
        Self { state }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            match state.authorize(req.uri().path(), req.headers()).await {
                Ok(principal) => {
                    req.extensions_mut().insert(principal);
                    inner.call(req).await
                }
                Err(e) => {
                    tracing::info!(path = req.uri().path(), reason = %e.reason, "call refused");
                    Ok(Status::from(e).into_http())
                }
            }
        })
    }
}
