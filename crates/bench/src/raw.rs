//! `lms-bench raw`: the baseline. The single-row INSERT the lead service executes for a
//! lead (`INSERT INTO leads (<its 18 columns>) VALUES ($1..$18)`, through the same sqlx
//! `Any` pool set-up as the services, `lms_platform::db::Db`), run directly against the
//! same database into a scratch table of the same shape, one autocommit statement per
//! operation. The scratch table is dropped at the end.
//!
//! The lead service's `leads` table must exist (it does once `lms serve` or `lms migrate`
//! has run): on PostgreSQL the scratch table is `lms_bench.bench_raw_leads (LIKE lead.leads
//! INCLUDING ALL)`; on SQLite (the lead service's own file, `<data dir>/lead.db`) it is
//! created from the stored DDL of `leads` and its indexes.

use crate::cpu;
use crate::data;
use crate::load;
use crate::stats::Report;
use anyhow::Context;
use lms_platform::db::{Backend, Db, PoolConfig};
use serde_json::json;
use sqlx::Row;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The scratch table.
const TABLE: &str = "bench_raw_leads";
/// The scratch schema on PostgreSQL.
const SCHEMA: &str = "lms_bench";
/// The lead service's schema on PostgreSQL.
const LEAD_SCHEMA: &str = "lead";
/// The lead store's column list (`LEAD_COLS` plus `dup_key`).
const COLUMNS: &str = "id, lead_uid, product_code, status, priority, score, assignee, \
    form_data, config_hash, scoring_version, lead_channel, lead_comment, document_metadata, \
    score_breakdown, version, create_time, update_time, dup_key";

/// Options of `raw` (and of the baseline half of `all`).
#[derive(Debug, Clone, clap::Args)]
pub struct RawArgs {
    /// Inserts in flight.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Timed inserts.
    #[arg(long, default_value_t = 5000)]
    pub requests: usize,
    /// Pool size (the services' default pool is 10 connections).
    #[arg(long, default_value_t = 10)]
    pub max_connections: u32,
    /// The data file (the source of the `form_data` payloads).
    #[arg(long, default_value_t = data::default_csv())]
    pub csv: String,
}

/// Runs the baseline against `url` (`postgres://...` or the lead service's `sqlite://...`).
pub async fn run(url: &str, args: &RawArgs) -> anyhow::Result<Report> {
    let baseline = Baseline::open(url, args).await?;
    let outcome = baseline.phase(0, args.requests).await;
    baseline.close().await?;
    outcome
}

/// The scratch table, its pool and the prepared payloads; timed phases run on it.
pub struct Baseline {
    db: Db,
    sql: Arc<String>,
    forms: Arc<Vec<String>>,
    breakdown: String,
    concurrency: usize,
    max_connections: u32,
}

impl Baseline {
    /// Connects and creates the scratch table.
    pub async fn open(url: &str, args: &RawArgs) -> anyhow::Result<Self> {
        let pool = PoolConfig {
            max_connections: args.max_connections.max(1),
            ..PoolConfig::default()
        };
        let db = Db::connect(url, SCHEMA, &pool).await?;
        create_table(&db)
            .await
            .context("create the scratch table (has the lead service migrated this database?)")?;
        let rows = data::read_rows(std::path::Path::new(&args.csv))?;
        // Payloads are serialized up front, as the lead service has them before its INSERT.
        let forms: Vec<String> = rows
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()?;
        let breakdown = json!([
            {"ruleId": "origin", "field": "leadOrigin", "operator": "IN", "points": 30, "reason": "strong origin"},
            {"ruleId": "time-high", "field": "totalTimeSpentOnWebsite", "operator": "GTE", "points": 20, "reason": "engaged"},
            {"ruleId": "notable", "field": "lastNotableActivity", "operator": "EXISTS", "points": 1, "reason": "active"}
        ])
        .to_string();
        let sql = format!(
            "INSERT INTO {TABLE} ({COLUMNS}) VALUES ({})",
            (1..=18)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Self {
            db,
            sql: Arc::new(sql),
            forms: Arc::new(forms),
            breakdown,
            concurrency: args.concurrency,
            max_connections: args.max_connections,
        })
    }

    /// Times `n` inserts, numbered from `offset` (lead numbers stay unique across phases).
    pub async fn phase(&self, offset: usize, n: usize) -> anyhow::Result<Report> {
        let config_hash = "9f2c".repeat(16);
        let pool = self.db.pool.clone();
        let (sql, forms, breakdown) =
            (self.sql.clone(), self.forms.clone(), self.breakdown.clone());
        let before = cpu::Snapshot::take(None);
        let (mut report, _) = load::closed(
            format!(
                "raw INSERT, closed loop ({} in flight, pool {})",
                self.concurrency, self.max_connections
            ),
            self.concurrency,
            n,
            move |i| {
                let i = offset + i;
                let (pool, sql, forms) = (pool.clone(), sql.clone(), forms.clone());
                let (breakdown, config_hash) = (breakdown.clone(), config_hash.clone());
                async move {
                    let now = micros_now();
                    sqlx::query(sql.as_str())
                        .bind(uuid::Uuid::now_v7().to_string())
                        .bind(format!("L-2026-{:06}", i + 1))
                        .bind("BENCH_RAW".to_string())
                        .bind(1i64) // NEW
                        .bind(2i64) // MEDIUM
                        .bind(51i64)
                        .bind(String::new())
                        .bind(forms[i % forms.len()].clone())
                        .bind(config_hash)
                        .bind(1i64)
                        .bind(1i64) // FORM
                        .bind(String::new())
                        .bind(None::<String>)
                        .bind(breakdown)
                        .bind(1i64)
                        .bind(now)
                        .bind(now)
                        .bind(None::<String>)
                        .execute(&pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            },
        )
        .await?;
        if let (Some(a), Some(b)) = (before, cpu::Snapshot::take(None)) {
            report.cpu = Some(cpu::Usage::between(&a, &b, report.ok));
        }
        Ok(report)
    }

    /// Drops the scratch table and closes the pool.
    pub async fn close(self) -> anyhow::Result<()> {
        let dropped = drop_table(&self.db).await;
        self.db.pool.close().await;
        dropped.context("drop the scratch table")
    }
}

fn micros_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Creates the scratch table with the shape (columns, keys, indexes) of `leads`.
async fn create_table(db: &Db) -> anyhow::Result<()> {
    sqlx::query(&format!("DROP TABLE IF EXISTS {TABLE}"))
        .execute(&db.pool)
        .await?;
    match db.backend {
        Backend::Postgres => {
            sqlx::query(&format!(
                "CREATE TABLE {TABLE} (LIKE {LEAD_SCHEMA}.leads INCLUDING ALL)"
            ))
            .execute(&db.pool)
            .await?;
        }
        Backend::Sqlite => {
            let rows = sqlx::query(
                "SELECT type, name, sql FROM sqlite_master \
                 WHERE tbl_name = 'leads' AND sql IS NOT NULL ORDER BY type DESC",
            )
            .fetch_all(&db.pool)
            .await?;
            anyhow::ensure!(!rows.is_empty(), "no table `leads` in this database");
            for row in rows {
                let (kind, name, sql): (String, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let ddl = sqlite_ddl(&kind, &name, &sql)
                    .with_context(|| format!("cannot copy the DDL of {kind} {name}: {sql}"))?;
                sqlx::query(&ddl).execute(&db.pool).await?;
            }
        }
    }
    Ok(())
}

/// Drops the scratch table (and, on PostgreSQL, the scratch schema when it is empty).
async fn drop_table(db: &Db) -> anyhow::Result<()> {
    sqlx::query(&format!("DROP TABLE IF EXISTS {TABLE}"))
        .execute(&db.pool)
        .await?;
    if db.backend == Backend::Postgres {
        // Not CASCADE: a schema someone else put objects in stays.
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {SCHEMA}"))
            .execute(&db.pool)
            .await;
    }
    Ok(())
}

/// The DDL of `leads` (`kind` "table") or one of its indexes rewritten for the scratch
/// table; `None` when it does not have the expected form.
fn sqlite_ddl(kind: &str, name: &str, sql: &str) -> Option<String> {
    match kind {
        "table" => {
            let at = find_word(sql, "leads")?;
            Some(format!(
                "{}{TABLE}{}",
                &sql[..at],
                &sql[at + "leads".len()..]
            ))
        }
        "index" => {
            let at = find_word(sql, name)?;
            let renamed = format!("{}bench_raw_{name}{}", &sql[..at], &sql[at + name.len()..]);
            let on = find_word(&renamed.to_ascii_lowercase(), "on")?;
            let tail = &renamed[on + 2..];
            let t = find_word(tail, "leads")?;
            Some(format!(
                "{}{}{TABLE}{}",
                &renamed[..on + 2],
                &tail[..t],
                &tail[t + "leads".len()..]
            ))
        }
        _ => None,
    }
}

/// The byte offset of the first occurrence of `word` as a whole identifier in `s`.
fn find_word(s: &str, word: &str) -> Option<usize> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = s.as_bytes();
    s.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = i == 0 || !ident(bytes[i - 1]);
        let end = i + word.len();
        let after = end >= bytes.len() || !ident(bytes[end]);
        before && after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ddl_is_renamed() {
        let ddl = sqlite_ddl(
            "table",
            "leads",
            "CREATE TABLE leads (\n id TEXT PRIMARY KEY, lead_uid TEXT NOT NULL UNIQUE)",
        );
        assert_eq!(
            ddl.as_deref(),
            Some(
                "CREATE TABLE bench_raw_leads (\n id TEXT PRIMARY KEY, lead_uid TEXT NOT NULL UNIQUE)"
            )
        );
    }

    #[test]
    fn index_ddl_is_renamed() {
        let ddl = sqlite_ddl(
            "index",
            "leads_dup",
            "CREATE INDEX leads_dup ON leads (product_code, dup_key) WHERE dup_key IS NOT NULL",
        );
        assert_eq!(
            ddl.as_deref(),
            Some(
                "CREATE INDEX bench_raw_leads_dup ON bench_raw_leads (product_code, dup_key) \
                 WHERE dup_key IS NOT NULL"
            )
        );
        assert_eq!(sqlite_ddl("trigger", "t", "CREATE TRIGGER t"), None);
    }
}
