//! `lms-bench all`: one self-contained run. Starts `lms serve` on a fresh data folder (and,
//! for PostgreSQL, a fresh database `lms_bench_<random>` on 127.0.0.1:5432), creates the
//! administrator, runs the raw baseline and then the gateway benchmark against the SAME
//! database, prints the comparison, and removes what it made.

use crate::raw::{self, RawArgs};
use crate::stats::Report;
use crate::submit::{self, SubmitArgs, SubmitOutcome};
use anyhow::Context;
use sqlx::Connection;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Which database the run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// PostgreSQL on 127.0.0.1:5432 (user postgres).
    Postgres,
    /// The embedded default: one SQLite file per service.
    Sqlite,
}

/// Options of `all`.
#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    /// The database to run on.
    #[arg(long, value_enum)]
    pub backend: BackendArg,
    /// The `lms` binary (default: `$CARGO_TARGET_DIR/release/lms`, else `target/release/lms`).
    #[arg(long)]
    pub lms_bin: Option<String>,
    /// The PostgreSQL server's maintenance database, where the run's database is created.
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        env = "LMS_BENCH_PG_ADMIN_URL"
    )]
    pub pg_admin_url: String,
    /// `RUST_LOG` of the `lms serve` child.
    #[arg(long, default_value = "warn")]
    pub server_log: String,
    /// Gateway benchmark options (`--concurrency`, `--requests`, `--rate`, ...; the raw
    /// baseline uses the same concurrency and count).
    #[command(flatten)]
    pub submit: SubmitArgs,
    /// Pool size of the raw baseline (the services' default is 10).
    #[arg(long, default_value_t = 10)]
    pub raw_max_connections: u32,
    /// The closed loops run in this many alternating rounds (raw, then gateway, each
    /// `requests / rounds`), so a drift of the machine's speed during the run hits both
    /// sides alike; the ratio is reported per round and overall.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
}

/// Both closed loops, round by round.
pub struct Rounds {
    /// The raw baseline, all rounds together.
    pub raw: Report,
    /// Gateway submissions, all rounds together.
    pub submit: Report,
    /// Gateway rate / raw rate of each round.
    pub ratios: Vec<f64>,
}

impl Rounds {
    /// The median of the rounds' ratios.
    pub fn median_ratio(&self) -> f64 {
        let mut r = self.ratios.clone();
        r.sort_by(f64::total_cmp);
        match r.len() {
            0 => 0.0,
            n if n % 2 == 1 => r[n / 2],
            n => (r[n / 2 - 1] + r[n / 2]) / 2.0,
        }
    }
}

/// Runs everything; cleans up whatever happened.
pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    let bin = args.lms_bin.clone().unwrap_or_else(default_bin);
    anyhow::ensure!(
        std::path::Path::new(&bin).is_file(),
        "no lms binary at {bin} (cargo build --release --bin lms, or --lms-bin)"
    );
    crate::check_local(&args.pg_admin_url)?;
    let data = tempfile::Builder::new().prefix("lms-bench-").tempdir()?;
    let database = match args.backend {
        BackendArg::Postgres => Some(create_database(&args.pg_admin_url).await?),
        BackendArg::Sqlite => None,
    };
    let db_url = match &database {
        Some((_, url)) => url.clone(),
        None => lms_platform::db::sqlite_url(data.path(), "lead"),
    };
    let outcome = run_on(&args, &bin, data.path(), database.as_ref().map(|d| &d.1)).await;
    if let Some((name, _)) = &database
        && let Err(e) = drop_database(&args.pg_admin_url, name).await
    {
        eprintln!("warning: could not drop database {name}: {e:#}");
    }
    let (rounds, sub) = outcome?;
    print_summary(&args, &db_url, &rounds, &sub);
    Ok(())
}

async fn run_on(
    args: &AllArgs,
    bin: &str,
    data: &std::path::Path,
    pg_url: Option<&String>,
) -> anyhow::Result<(Rounds, SubmitOutcome)> {
    let password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let mut env: Vec<(String, String)> = vec![
        ("LMS_DATA_DIR".into(), data.display().to_string()),
        ("LMS_GATEWAY__ADDR".into(), "127.0.0.1:0".into()),
        ("RUST_LOG".into(), args.server_log.clone()),
    ];
    for svc in ["UAM", "CONFIG", "LEAD", "NOTIFY", "REPORT"] {
        env.push((format!("LMS_{svc}__ADDR"), "127.0.0.1:0".into()));
    }
    if let Some(url) = pg_url {
        env.push(("LMS_DATABASE__URL".into(), url.clone()));
    }
    let (mut child, gateway) = start_server(bin, &env).await?;
    let result = async {
        create_admin(bin, &env, &args.submit.admin_user, &password).await?;
        let raw_url = match pg_url {
            Some(url) => url.clone(),
            None => lms_platform::db::sqlite_url(data, "lead"),
        };
        let raw_args = RawArgs {
            concurrency: args.submit.concurrency,
            requests: args.submit.requests,
            max_connections: args.raw_max_connections,
            csv: args.submit.csv.clone(),
        };
        let baseline = raw::Baseline::open(&raw_url, &raw_args).await?;
        // The baseline warms up as the gateway does (connections, prepared statement,
        // caches), with lead numbers after those of the timed phases.
        if args.submit.warmup > 0 {
            let w = baseline
                .phase(args.submit.requests, args.submit.warmup)
                .await?;
            eprintln!("raw warm-up\n{w}");
        }
        let mut sub_args = args.submit.clone();
        sub_args.admin_password = Some(password.clone());
        sub_args.server_pid = child.id();
        let rounds = async {
            let mut bench = submit::Prepared::new(&format!("http://{gateway}"), &sub_args).await?;
            bench.warm_up().await?;
            let rounds = alternate(args, &baseline, &mut bench).await?;
            let open = bench.open().await?;
            let sub = SubmitOutcome {
                render: bench.render.clone(),
                closed: rounds.submit.clone(),
                open,
            };
            Ok::<_, anyhow::Error>((rounds, sub))
        }
        .await;
        baseline.close().await?;
        rounds
    }
    .await;
    child.start_kill().ok();
    let _ = child.wait().await;
    result
}

/// The closed loops: `rounds` times the raw baseline then the gateway, each with an equal
/// share of `requests`.
async fn alternate(
    args: &AllArgs,
    baseline: &raw::Baseline,
    bench: &mut submit::Prepared,
) -> anyhow::Result<Rounds> {
    let rounds = args.rounds.clamp(1, args.submit.requests.max(1));
    let mut done = 0;
    let mut all: Option<(Report, Report)> = None;
    let mut ratios = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let n = (args.submit.requests - done) / (rounds - r);
        let raw = baseline.phase(done, n).await?;
        let sub = bench.closed(n).await?;
        done += n;
        let ratio = if raw.rate() > 0.0 {
            sub.rate() / raw.rate()
        } else {
            0.0
        };
        eprintln!(
            "round {}/{rounds}: raw {:.0}/s, gateway {:.0}/s, ratio {ratio:.3}",
            r + 1,
            raw.rate(),
            sub.rate()
        );
        ratios.push(ratio);
        match &mut all {
            None => all = Some((raw, sub)),
            Some((a, b)) => {
                a.merge(&raw)?;
                b.merge(&sub)?;
            }
        }
    }
    let (raw, submit) = all.context("no rounds")?;
    Ok(Rounds {
        raw,
        submit,
        ratios,
    })
}

/// `$CARGO_TARGET_DIR/release/lms`, else `target/release/lms`.
fn default_bin() -> String {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    format!("{dir}/release/lms")
}

/// Starts `lms serve` and waits for its `LMS is running: http://<addr>` line.
async fn start_server(bin: &str, env: &[(String, String)]) -> anyhow::Result<(Child, String)> {
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().with_context(|| format!("start {bin} serve"))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let gateway = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix("LMS is running: http://") {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                return Ok(addr.to_string());
            }
        }
        anyhow::bail!("lms serve exited before it was ready")
    })
    .await
    .context("lms serve did not report readiness within 120 s")??;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    eprintln!("lms serve: gateway on {gateway}");
    Ok((child, gateway))
}

/// `lms admin create-user ... --role ADMIN` with the password in `LMS_ADMIN_PASSWORD`.
async fn create_admin(
    bin: &str,
    env: &[(String, String)],
    user: &str,
    password: &str,
) -> anyhow::Result<()> {
    let mut cmd = Command::new(bin);
    cmd.args([
        "admin",
        "create-user",
        "--username",
        user,
        "--role",
        "ADMIN",
    ])
    .args(["--email", &format!("{user}@bench.example.com")])
    .env("LMS_ADMIN_PASSWORD", password)
    .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await?;
    anyhow::ensure!(
        out.status.success(),
        "lms admin create-user failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Creates `lms_bench_<random>`; returns its name and URL.
async fn create_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    let name = format!(
        "lms_bench_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connect to {admin_url}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .context("the admin URL names no database")?;
    Ok((name.clone(), format!("{base}/{name}")))
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

fn print_summary(args: &AllArgs, db_url: &str, rounds: &Rounds, sub: &SubmitOutcome) {
    let raw = &rounds.raw;
    let backend = match args.backend {
        BackendArg::Postgres => "PostgreSQL",
        BackendArg::Sqlite => "SQLite",
    };
    let c = &sub.closed;
    println!();
    println!(
        "== {backend} ({}), concurrency {}, {} operations ==",
        redact(db_url),
        args.submit.concurrency,
        args.submit.requests
    );
    println!(
        "{:<34} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "phase", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    let line = |name: &str, r: &Report| {
        println!(
            "{:<34} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7}",
            name,
            r.rate(),
            r.ms(0.5),
            r.ms(0.9),
            r.ms(0.99),
            r.max_ms(),
            r.errors
        );
    };
    line("raw INSERT (closed loop)", raw);
    line("render package (set-up)", &sub.render);
    line("gateway submit (closed loop)", c);
    if let Some(o) = &sub.open {
        let rate = args.submit.rate.unwrap_or_default();
        line(&format!("gateway submit (open, {rate:.0}/s)"), o);
    }
    let ratio = if raw.rate() > 0.0 {
        c.rate() / raw.rate()
    } else {
        0.0
    };
    let each: Vec<String> = rounds.ratios.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "ratio gateway/raw: {ratio:.3} overall, median of {} rounds {:.3} ({})",
        rounds.ratios.len(),
        rounds.median_ratio(),
        each.join(" ")
    );
    for (name, r) in [
        ("raw INSERT", Some(raw)),
        ("closed loop", Some(c)),
        ("open loop", sub.open.as_ref()),
    ] {
        if let Some(cpu) = r.and_then(|r| r.cpu) {
            println!("{name}: {cpu}");
        }
    }
}

/// A URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = &url[s + 3..at];
            let user = user.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://u@127.0.0.1:5432/db"
        );
        assert_eq!(redact("sqlite:///tmp/x/lead.db"), "sqlite:///tmp/x/lead.db");
    }
}
