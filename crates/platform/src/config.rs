//! Configuration loading: typed defaults, then an optional TOML file, then `LMS_...`
//! environment variables (`LMS_SECTION__KEY`, e.g. `LMS_GATEWAY__ADDR`), then the
//! caller's `validate()`. Nothing else in LMS reads the environment.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Environment variables with the `LMS_` prefix that are not configuration keys: the
/// admin password of `lms admin create-user`; the test suite's `LMS_TEST_*` are skipped too.
const NOT_CONFIG: &[&str] = &["admin_password"];

fn is_config_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !NOT_CONFIG.contains(&key.as_str()) && !key.starts_with("test_")
}

/// Loads `T` from its defaults, `file` (when given) and the environment.
pub fn load<T: DeserializeOwned + Serialize + Default>(file: Option<&Path>) -> anyhow::Result<T> {
    let mut fig = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        anyhow::ensure!(path.exists(), "config file {} not found", path.display());
        fig = fig.merge(Toml::file(path));
    }
    fig = fig.merge(
        Env::prefixed("LMS_")
            .split("__")
            .filter(|k| is_config_key(k.as_str())),
    );
    Ok(fig.extract()?)
}

/// Per-service database settings: the URL (empty: the shared one, else the SQLite file in
/// the data folder) and pool limits.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Database URL: `postgres://...` or `sqlite://path`.
    pub url: Option<String>,
    /// Pool limits.
    pub pool: crate::db::PoolConfig,
}
