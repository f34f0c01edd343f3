//! CORS and CSRF. CORS (tower-http) echoes only allowlisted origins, exactly as
//! configured, with `Vary: Origin`, never `*` and never with credentials (the API uses
//! bearer tokens, not cookies); preflights from other origins get no
//! `Access-Control-Allow-Origin`. On top of that, a state-changing browser request
//! (anything but GET, HEAD, OPTIONS) whose `Origin` is neither allowlisted nor the
//! gateway's own origin is refused with 403 ORIGIN_NOT_ALLOWED, so a cross-site form post
//! cannot reach any route, even one that takes no JSON body (e.g. the refresh by query
//! string). JSON routes refuse `text/plain` bodies with 415 as well.

use http::{HeaderName, HeaderValue, Method};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers browsers may send (REST and grpc-web).
const ALLOW_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "idempotency-key",
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
];

/// Response headers browsers may read.
const EXPOSE_HEADERS: &[&str] = &[
    "x-request-id",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "www-authenticate",
];

/// True for a plain origin: `http(s)://host[:port]`, no path, no trailing slash, no `*`.
pub fn is_valid_origin(s: &str) -> bool {
    let Ok(uri) = s.parse::<http::Uri>() else {
        return false;
    };
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri
            .authority()
            .is_some_and(|a| !a.as_str().contains(['*', '@']))
        && !s.ends_with('/')
        && uri.path_and_query().is_none_or(|p| p.as_str() == "/")
}

/// The configured origins that are valid (invalid ones are logged and dropped).
pub fn allowed_origins(configured: &[String]) -> Vec<HeaderValue> {
    configured
        .iter()
        .filter_map(|o| {
            let ok = is_valid_origin(o);
            if !ok {
                tracing::warn!(origin = %o, "ignoring an invalid CORS origin");
            }
            ok.then(|| HeaderValue::from_str(o).ok()).flatten()
        })
        .collect()
}

/// The CORS layer for the allowlist.
pub fn layer(origins: Vec<HeaderValue>) -> CorsLayer {
    let names = |list: &[&str]| -> Vec<HeaderName> {
        list.iter()
            .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
            .collect()
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(names(ALLOW_HEADERS))
        .expose_headers(names(EXPOSE_HEADERS))
        .max_age(Duration::from_secs(600))
}

/// Decides whether a request may change state, given its `Origin`.
#[derive(Clone, Debug, Default)]
pub struct OriginPolicy {
    allowed: Vec<HeaderValue>,
}

impl OriginPolicy {
    /// A policy for the allowlist.
    pub fn new(allowed: Vec<HeaderValue>) -> Self {
        Self { allowed }
    }

    /// True when the request may proceed: a safe method, no `Origin` (not a browser), an
    /// allowlisted origin, or the gateway's own origin (same-origin pages; the gateway's
    /// authority is the `Host` header, or the URI's for HTTP/2).
    pub fn allows(&self, method: &Method, uri: &http::Uri, headers: &http::HeaderMap) -> bool {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return true;
        }
        let Some(origin) = headers.get(http::header::ORIGIN) else {
            return true;
        };
        if self.allowed.iter().any(|a| a == origin) {
            return true;
        }
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(http::uri::Authority::as_str));
        let authority = origin
            .to_str()
            .ok()
            .and_then(|o| o.parse::<http::Uri>().ok())
            .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()));
        matches!((host, authority), (Some(h), Some(a)) if h.eq_ignore_ascii_case(&a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_plain() {
        assert!(is_valid_origin("https://crm.example.com"));
        assert!(is_valid_origin("http://localhost:5173"));
        assert!(!is_valid_origin("https://crm.example.com/"));
        assert!(!is_valid_origin("https://crm.example.com/app"));
        assert!(!is_valid_origin("*"));
        assert!(!is_valid_origin("https://*.example.com"));
        assert!(!is_valid_origin("null"));
        assert!(!is_valid_origin("ftp://example.com"));
    }

    #[test]
    fn state_changes_need_an_allowed_or_own_origin() {
        let p = OriginPolicy::new(vec![HeaderValue::from_static("https://ok.example")]);
        let u = http::Uri::from_static("/lead/api/leads");
        let h = |origin: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(
                http::header::HOST,
                HeaderValue::from_static("gw.example:8080"),
            );
            m.insert(http::header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            m
        };
        assert!(p.allows(&Method::POST, &u, &h("https://ok.example")));
        assert!(p.allows(&Method::POST, &u, &h("http://gw.example:8080")));
        assert!(p.allows(&Method::GET, &u, &h("https://evil.example")));
        assert!(!p.allows(&Method::POST, &u, &h("https://evil.example")));
        assert!(!p.allows(&Method::POST, &u, &h("null")));
        assert!(!p.allows(&Method::PUT, &u, &h("https://OK.example")));
        assert!(!p.allows(&Method::POST, &u, &h("https://ok.example/")));
        assert!(p.allows(&Method::POST, &u, &http::HeaderMap::new()));
        // HTTP/2: no Host header, the authority is in the URI.
        let mut m = http::HeaderMap::new();
        m.insert(
            http::header::ORIGIN,
            HeaderValue::from_static("https://gw.example"),
        );
        let h2 = http::Uri::from_static("https://gw.example/lead/api/leads");
        assert!(p.allows(&Method::POST, &h2, &m));
        assert!(!p.allows(&Method::POST, &u, &m));
    }
}
