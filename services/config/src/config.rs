//! The config service's typed settings (`[config]` in the TOML file, `LMS_CONFIG__...` in
//! the environment). Defaults suit the embedded all-in-one mode.

use lms_platform::config::DatabaseConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Settings of the config service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listen address of the gRPC server.
    pub addr: String,
    /// Database (empty URL: the shared one, else `config.db` in the data folder).
    pub database: DatabaseConfig,
    /// How long a signed form token stays valid, in seconds (default 2 hours).
    pub form_token_ttl_secs: u64,
    /// Form-signing keys: the first signs, all verify (rotation: put the new key first and
    /// keep the old one until the TTL has passed). Empty: in the embedded mode a key is
    /// generated in `<data_dir>/keys/form-signing.key` on first start; otherwise the
    /// service refuses to start.
    pub form_signing_keys: Vec<SigningKeyConfig>,
    /// How long the latest version of a product may be served from memory, in
    /// milliseconds. Updates through this instance invalidate it at once; the limit only
    /// bounds staleness when several config instances share a database.
    pub latest_cache_ttl_ms: u64,
}

/// One form-signing key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SigningKeyConfig {
    /// Key id carried in tokens, `[A-Za-z0-9_-]{1,32}`.
    pub kid: String,
    /// File holding the key: exactly 32 raw bytes, or 64 hex characters (surrounding
    /// whitespace ignored).
    pub key_file: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:50052".to_string(),
            database: DatabaseConfig::default(),
            form_token_ttl_secs: 7_200,
            form_signing_keys: Vec::new(),
            latest_cache_ttl_ms: 5_000,
        }
    }
}

impl Config {
    /// Checks values the types cannot express.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (60..=7 * 24 * 3_600).contains(&self.form_token_ttl_secs),
            "config.form_token_ttl_secs must be between 60 and 604800"
        );
        Ok(())
    }
}
