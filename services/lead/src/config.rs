//! The lead service's typed configuration (`[lead]` in the TOML file, `LMS_LEAD__...` in
//! the environment).

use lms_platform::config::DatabaseConfig;
use serde::{Deserialize, Serialize};

/// Settings of the lead service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listen address of the gRPC server.
    pub addr: String,
    /// Database URL and pool.
    pub database: DatabaseConfig,
    /// Limits of a public submission.
    pub submission: SubmissionLimits,
    /// How long the list of enabled agents (for round-robin assignment) is cached, in
    /// seconds; 0 fetches it on every submission.
    pub agent_cache_seconds: u64,
    /// How long idempotency records are kept, in hours (at least 24).
    pub idempotency_retention_hours: u64,
    /// Most product versions (compiled schema and rules) kept in memory.
    pub product_cache_entries: usize,
    /// How often the event sequencer and event followers poll, in milliseconds, when
    /// nothing pokes them.
    pub event_poll_ms: u64,
    /// Least time between two fetches of config's form-token verification keys, in
    /// milliseconds. A token naming a key id we do not hold (config rotated its keys)
    /// triggers a fetch at most this often; 0 fetches on every such token.
    pub form_keys_refetch_ms: u64,
    /// Form-token verification keys older than this, in seconds, are fetched again on
    /// use, so a key config dropped stops verifying; while config is unreachable the
    /// keys held go on verifying. 0 fetches on every submission.
    pub form_keys_max_age_secs: u64,
    /// How many lead numbers (and round-robin slots) a process reserves at once. Larger
    /// blocks save round trips; a restart leaves at most this many numbers unused.
    pub counter_block: u32,
    /// Most new leads written together in one transaction (group commit) when
    /// submissions arrive faster than they are written; 1 writes each on its own.
    pub write_batch_max: usize,
    /// How many such transactions may run at once on PostgreSQL (SQLite always has one
    /// writer).
    pub write_batch_writers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:50053".to_string(),
            database: DatabaseConfig::default(),
            submission: SubmissionLimits::default(),
            agent_cache_seconds: 30,
            idempotency_retention_hours: 48,
            product_cache_entries: 1024,
            event_poll_ms: 200,
            form_keys_refetch_ms: 5_000,
            form_keys_max_age_secs: 300,
            counter_block: 50,
            write_batch_max: 64,
            write_batch_writers: 4,
        }
    }
}

impl Config {
    /// Rejects settings the service cannot run with, naming the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        // Each batch size is its own prepared statement on PostgreSQL (four on SQLite,
        // where re-preparing is local and cheap), and sqlx keeps 100 per connection:
        // larger batches would evict the service's other statements.
        anyhow::ensure!(
            (1..=64).contains(&self.write_batch_max),
            "lead.write_batch_max must be between 1 and 64, not {}",
            self.write_batch_max
        );
        // Writers hold connections while they write; the rest of the service needs some.
        let pool = self.database.pool.max_connections as usize;
        anyhow::ensure!(
            self.write_batch_max == 1
                || (self.write_batch_writers >= 1 && self.write_batch_writers < pool),
            "lead.write_batch_writers must be at least 1 and less than \
             lead.database.pool.max_connections ({pool}), not {}",
            self.write_batch_writers
        );
        Ok(())
    }
}

/// Size limits of `SubmitLead`, checked before anything else.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmissionLimits {
    /// Largest `formData`, in bytes of its protobuf encoding.
    pub max_form_bytes: usize,
    /// Most top-level fields in `formData`.
    pub max_fields: usize,
    /// Longest string value, in characters.
    pub max_string_chars: usize,
    /// Deepest nesting of objects and arrays in `formData`.
    pub max_depth: usize,
}

impl Default for SubmissionLimits {
    fn default() -> Self {
        Self {
            max_form_bytes: 64 * 1024,
            max_fields: 200,
            max_string_chars: 10_000,
            max_depth: 8,
        }
    }
}
