//! What a REST call carries to the services: the caller's `authorization` (as is), the
//! resolved client address (`x-forwarded-for`), the browser's `origin` (for per-product
//! origin checks), the request id and the W3C trace context of the gateway's span (so one
//! trace spans gateway -> service), and a deadline.

use crate::client_ip::{ClientIp, FORWARDED_FOR};
use axum::extract::FromRequestParts;
use http::request::Parts;
use std::convert::Infallible;
use std::time::Duration;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};

/// Deadline of one upstream call made for a REST request.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// The REST caller, as far as the upstream calls need it.
#[derive(Clone, Default)]
pub struct Caller {
    authorization: Option<AsciiMetadataValue>,
    client_ip: Option<AsciiMetadataValue>,
    origin: Option<AsciiMetadataValue>,
    /// The raw `Authorization` header value, for the one route that reads a token from it.
    bearer: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let auth = parts.headers.get(http::header::AUTHORIZATION);
        let bearer = auth
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string());
        Ok(Self {
            authorization: auth.and_then(|v| AsciiMetadataValue::try_from(v.as_bytes()).ok()),
            client_ip: parts
                .extensions
                .get::<ClientIp>()
                .and_then(|ip| MetadataValue::try_from(ip.0.to_string()).ok()),
            origin: parts
                .headers
                .get(http::header::ORIGIN)
                .and_then(|v| AsciiMetadataValue::try_from(v.as_bytes()).ok()),
            bearer,
        })
    }
}

impl Caller {
    /// The bearer token of the `Authorization` header, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.bearer.as_deref().filter(|t| !t.is_empty())
    }

    /// Wraps a message for an upstream call with the caller's credentials and context.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        self.build(message, true)
    }

    /// Like [`Caller::request`] without the caller's `authorization` (used when the
    /// header holds something else, e.g. the MFA token of totp-login).
    pub fn anonymous<T>(&self, message: T) -> tonic::Request<T> {
        self.build(message, false)
    }

    fn build<T>(&self, message: T, with_auth: bool) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.set_timeout(UPSTREAM_TIMEOUT);
        let md = req.metadata_mut();
        if let (true, Some(a)) = (with_auth, &self.authorization) {
            md.insert("authorization", a.clone());
        }
        if let Some(ip) = &self.client_ip {
            md.insert(FORWARDED_FOR, ip.clone());
        }
        if let Some(o) = &self.origin {
            md.insert("origin", o.clone());
        }
        lms_platform::telemetry::inject_context(md);
        req
    }
}
