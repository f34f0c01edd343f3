//! The gateway's configuration (section `gateway` of the `lms` configuration).

use crate::client_ip::TrustedProxies;
use serde::{Deserialize, Serialize};

/// Gateway settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listen address (REST, gRPC and grpc-web on one port).
    pub addr: String,
    /// Browser origins allowed by CORS, matched exactly (scheme, host and port, no
    /// trailing slash), e.g. `https://crm.example.com`. Empty: no cross-origin browser
    /// access. `*` is refused.
    pub cors_allowed_origins: Vec<String>,
    /// Largest REST request body in bytes; larger is 413 before it is buffered.
    pub max_body_bytes: usize,
    /// Addresses (`10.0.0.7`) or networks (`10.0.0.0/8`, `fd00::/8`) of reverse proxies
    /// whose `X-Forwarded-For` is believed. Empty: the peer address is the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".to_string(),
            cors_allowed_origins: Vec::new(),
            max_body_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Config {
    /// Checks the settings: CORS origins must be plain origins, proxies valid addresses or
    /// networks, the body limit at least 1 KiB.
    pub fn validate(&self) -> anyhow::Result<()> {
        for o in &self.cors_allowed_origins {
            anyhow::ensure!(
                crate::cors::is_valid_origin(o),
                "gateway.cors_allowed_origins: {o:?} is not an origin like https://app.example.com \
                 (no '*', no path, no trailing slash)"
            );
        }
        TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("gateway.trusted_proxies: {e}"))?;
        anyhow::ensure!(
            self.max_body_bytes >= 1024,
            "gateway.max_body_bytes must be at least 1024"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_the_contract() {
        let c = Config::default();
        assert_eq!(c.addr, "127.0.0.1:8080");
        assert_eq!(c.max_body_bytes, 65536);
        assert!(c.cors_allowed_origins.is_empty());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.cors_allowed_origins = vec!["*".into()]));
        assert!(bad(
            |c| c.cors_allowed_origins = vec!["https://a.example/".into()]
        ));
        assert!(bad(|c| c.trusted_proxies = vec!["10.0.0.0/33".into()]));
        assert!(bad(|c| c.trusted_proxies = vec!["proxy.local".into()]));
        assert!(bad(|c| c.max_body_bytes = 10));
    }
}
