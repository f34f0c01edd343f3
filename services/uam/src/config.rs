//! Typed configuration of the uam service (`[uam]` section, `LMS_UAM__...` variables).
//! Defaults follow `security.md`; `validate` refuses values outside its bounds.

use lms_platform::config::DatabaseConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// uam settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listen address of the gRPC server.
    pub addr: String,
    /// Database of the service.
    pub database: DatabaseConfig,
    /// When true anyone may register (as an AGENT); when false only an ADMIN may.
    pub registration_open: bool,
    /// PKCS#8 PEM file of the Ed25519 signing key. Unset: generated under the data
    /// folder in the embedded mode, refused otherwise.
    pub signing_key_file: Option<PathBuf>,
    /// Lifetime of access tokens, in seconds (security.md: 5 to 15 minutes).
    pub access_token_ttl_secs: u64,
    /// Absolute lifetime of a refresh-token family, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// Lifetime of the pending-MFA token, in seconds (at most 300).
    pub mfa_token_ttl_secs: u64,
    /// Peers (IP addresses or CIDR blocks) whose `x-forwarded-for` is believed.
    pub trusted_proxies: Vec<String>,
    /// Login and TOTP-login attempts per client IP per minute.
    pub ip_attempts_per_minute: u32,
    /// Burst of attempts a client IP may make at once.
    pub ip_attempts_burst: u32,
    /// Concurrent password hash operations; 0 means twice the number of cores.
    pub hash_concurrency: usize,
    /// How long a request waits for a free hashing slot before RESOURCE_EXHAUSTED, in ms.
    pub hash_wait_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:50051".to_string(),
            database: DatabaseConfig::default(),
            registration_open: false,
            signing_key_file: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 43_200,
            mfa_token_ttl_secs: 300,
            trusted_proxies: vec!["127.0.0.0/8".to_string(), "::1/128".to_string()],
            ip_attempts_per_minute: 20,
            ip_attempts_burst: 20,
            hash_concurrency: 0,
            hash_wait_ms: 2_000,
        }
    }
}

impl Config {
    /// Checks the settings against their bounds.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (60..=3_600).contains(&self.access_token_ttl_secs),
            "uam.access_token_ttl_secs must be between 60 and 3600"
        );
        anyhow::ensure!(
            (60..=30 * 86_400).contains(&self.refresh_token_ttl_secs),
            "uam.refresh_token_ttl_secs must be between 60 and 2592000"
        );
        anyhow::ensure!(
            (30..=300).contains(&self.mfa_token_ttl_secs),
            "uam.mfa_token_ttl_secs must be between 30 and 300"
        );
        anyhow::ensure!(
            self.ip_attempts_per_minute > 0 && self.ip_attempts_burst > 0,
            "uam.ip_attempts_per_minute and uam.ip_attempts_burst must be positive"
        );
        for p in &self.trusted_proxies {
            crate::domain::net::IpNet::parse(p).ok_or_else(|| {
                anyhow::anyhow!("uam.trusted_proxies: {p:?} is not an IP or CIDR")
            })?;
        }
        Ok(())
    }
}
