//! The system-wide configuration: defaults, then an optional TOML file, then `LMS_...`
//! environment variables (`LMS_GATEWAY__ADDR`, `LMS_DATABASE__URL`,
//! `LMS_LEAD__DATABASE__URL`, `LMS_DATA_DIR`, ...). `lms serve --help` lists the keys.

use lms_platform::runtime::PeerUrls;
use lms_platform::server::ServerLimits;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Every setting of the `lms` binary.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmsConfig {
    /// Data folder: SQLite files, dev keys, local object store (`LMS_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The database every service uses unless its own section overrides it.
    pub database: SharedDatabase,
    /// Service-to-service settings.
    pub mesh: MeshConfig,
    /// Logging and tracing.
    pub telemetry: TelemetryConfig,
    /// The async runtime.
    pub runtime: RuntimeConfig,
    /// gRPC server limits, shared by every service.
    pub server: ServerLimits,
    /// User and access management.
    pub uam: lms_uam::Config,
    /// Product configuration.
    pub config: lms_config::Config,
    /// Leads.
    pub lead: lms_lead::Config,
    /// Notifications.
    pub notify: lms_notify::Config,
    /// Analytics and reports.
    pub report: lms_report::Config,
    /// The REST / grpc-web / gRPC gateway.
    pub gateway: lms_gateway::Config,
}

impl Default for LmsConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./lms-data"),
            database: SharedDatabase::default(),
            mesh: MeshConfig::default(),
            telemetry: TelemetryConfig::default(),
            runtime: RuntimeConfig::default(),
            server: ServerLimits::default(),
            uam: Default::default(),
            config: Default::default(),
            lead: Default::default(),
            notify: Default::default(),
            report: Default::default(),
            gateway: Default::default(),
        }
    }
}

/// The async runtime every part of the process shares.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Worker threads (`LMS_RUNTIME__WORKER_THREADS`, 1 to 256). Unset: one per CPU core.
    /// Fewer can be faster when the database shares the machine: a submission wakes
    /// several tasks, and idle workers woken for each of them cost more than they run.
    pub worker_threads: Option<usize>,
}

/// The shared database.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedDatabase {
    /// `postgres://...`: every service uses this database, each in its own schema.
    /// Unset: one SQLite file per service in the data folder.
    pub url: Option<String>,
}

/// Service-to-service settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshConfig {
    /// The shared secret services present to each other (`LMS_MESH__KEY`). In the
    /// embedded mode it is generated in the data folder when unset.
    #[serde(skip_serializing)]
    pub key: Option<SecretString>,
    /// A file holding the mesh key (e.g. a mounted Kubernetes Secret).
    pub key_file: Option<PathBuf>,
    /// Peers' URLs in the distributed mode (`LMS_MESH__PEERS__LEAD=http://lead:50053`);
    /// unset ones default to `http://<that service's addr>`.
    pub peers: PeerUrls,
}

/// Logging and tracing.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `text` or `json` log lines.
    pub log_format: String,
    /// OTLP endpoint for traces; defaults to `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: "text".to_string(),
            otlp_endpoint: None,
        }
    }
}

impl LmsConfig {
    /// Loads defaults, the optional TOML file and the environment, then validates.
    pub fn load(file: Option<&std::path::Path>, data_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut cfg: Self = lms_platform::config::load(file)?;
        if let Some(d) = data_dir {
            cfg.data_dir = d;
        }
        if cfg.telemetry.otlp_endpoint.is_none() {
            cfg.telemetry.otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|s| !s.is_empty());
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.runtime
                .worker_threads
                .is_none_or(|n| (1..=256).contains(&n)),
            "runtime.worker_threads must be between 1 and 256"
        );
        anyhow::ensure!(
            matches!(self.telemetry.log_format.as_str(), "text" | "json"),
            "telemetry.log_format must be \"text\" or \"json\""
        );
        for (name, addr) in [
            ("uam.addr", &self.uam.addr),
            ("config.addr", &self.config.addr),
            ("lead.addr", &self.lead.addr),
            ("notify.addr", &self.notify.addr),
            ("report.addr", &self.report.addr),
            ("gateway.addr", &self.gateway.addr),
        ] {
            addr.parse::<std::net::SocketAddr>()
                .map_err(|e| anyhow::anyhow!("{name} = {addr:?} is not host:port ({e})"))?;
        }
        if let Some(url) = &self.database.url {
            lms_platform::db::Backend::of_url(url)?;
        }
        Ok(())
    }

    /// The database URL of a service: its own, else the shared one, else its SQLite file.
    pub fn database_url(&self, service: &str, own: Option<&String>) -> String {
        own.or(self.database.url.as_ref())
            .cloned()
            .unwrap_or_else(|| lms_platform::db::sqlite_url(&self.data_dir, service))
    }
}

/// The text of `lms serve --help`'s configuration section.
pub const CONFIG_HELP: &str = "\
CONFIGURATION (defaults < --config FILE (TOML) < LMS_* environment):
  LMS_DATA_DIR                     data folder (default ./lms-data): SQLite files, dev keys
  LMS_DATABASE__URL                postgres://... for every service (own schema each);
                                   unset: one SQLite file per service in the data folder
  LMS_<SVC>__DATABASE__URL         per-service override (SVC = UAM, CONFIG, LEAD, NOTIFY, REPORT)
  LMS_<SVC>__DATABASE__POOL__MAX_CONNECTIONS, ..._ACQUIRE_TIMEOUT_MS, ..._STATEMENT_TIMEOUT_MS
  LMS_<SVC>__ADDR                  service listen address (uam 127.0.0.1:50051, config :50052,
                                   lead :50053, notify :50054, report :50055)
  LMS_GATEWAY__ADDR                gateway address (default 127.0.0.1:8080)
  LMS_GATEWAY__CORS_ALLOWED_ORIGINS  e.g. [\"https://shop.example\"]
  LMS_GATEWAY__MAX_BODY_BYTES      request body limit (default 65536)
  LMS_UAM__REGISTRATION_OPEN       true lets anyone sign up as AGENT (default false)
  LMS_UAM__SIGNING_KEY_FILE        Ed25519 PKCS#8 PEM (required outside the embedded mode)
  LMS_CONFIG__FORM_TOKEN_TTL_SECS  lifetime of signed form tokens (default 7200)
  LMS_MESH__KEY / LMS_MESH__KEY_FILE  service-to-service secret (generated when embedded)
  LMS_MESH__PEERS__<SVC>           peer URL in the distributed mode, e.g. http://lead:50053
  LMS_SERVER__REQUEST_TIMEOUT_MS, LMS_SERVER__CONCURRENCY_PER_CONNECTION,
  LMS_SERVER__SHUTDOWN_GRACE_MS    time open requests get to finish on SIGTERM (default 10000)
  LMS_RUNTIME__WORKER_THREADS      async worker threads (default: one per CPU core)
  LMS_TELEMETRY__LOG_FORMAT        text | json;  RUST_LOG sets levels (default info)
  OTEL_EXPORTER_OTLP_ENDPOINT      export traces over OTLP/gRPC when set
";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_are_checked() {
        let mut cfg = LmsConfig::default();
        cfg.validate().unwrap();
        cfg.runtime.worker_threads = Some(1);
        cfg.validate().unwrap();
        for bad in [0, 257] {
            cfg.runtime.worker_threads = Some(bad);
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains("runtime.worker_threads"), "{e}");
        }
    }

    #[test]
    fn the_help_names_the_runtime_and_server_settings() {
        for key in [
            "LMS_RUNTIME__WORKER_THREADS",
            "LMS_DATABASE__URL",
            "LMS_GATEWAY__ADDR",
        ] {
            assert!(CONFIG_HELP.contains(key), "{key}");
        }
    }
}
