//! `lms-bench`: the load generator of BENCHMARKS.md. It submits real leads (rows of
//! `leads-xeducation.csv`) through the gateway's public REST front, closed loop at a fixed
//! concurrency and optionally open loop at a fixed arrival rate, and measures the raw
//! baseline: the lead service's single-row INSERT executed directly against the same
//! database. It only ever talks to 127.0.0.1 and every loop is bounded. It is a tool, not
//! a service: it must not be linked into `lms` nor reach into any service's internals
//! beyond the shape of the `leads` table.

// Tests may unwrap; the tool itself may not (workspace lints).
#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used))]

mod all;
mod cpu;
mod data;
mod load;
mod raw;
mod stats;
mod submit;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lms-bench",
    version,
    about = "LMS load generator (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Submits leads through a running gateway (closed loop, then open loop with --rate).
    Submit {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        gateway: String,
        #[command(flatten)]
        args: submit::SubmitArgs,
    },
    /// The raw baseline: the lead INSERT straight into the database, in a scratch table.
    Raw {
        /// `postgres://...` (the server the services use) or the lead service's
        /// `sqlite://<data dir>/lead.db`.
        #[arg(long)]
        database_url: String,
        #[command(flatten)]
        args: raw::RawArgs,
    },
    /// Starts `lms serve` on a fresh database, runs `raw` then `submit`, prints the ratio.
    All(all::AllArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.command {
            Cmd::Submit { gateway, args } => {
                // Each phase prints its report as it ends (set-up on stderr).
                submit::run(&gateway, &args).await.map(|_| ())
            }
            Cmd::Raw { database_url, args } => {
                check_local(&database_url)?;
                let report = raw::run(&database_url, &args).await?;
                println!("{report}");
                Ok(())
            }
            Cmd::All(args) => all::run(args).await,
        }
    })
}

/// Refuses a PostgreSQL server that is not on this machine.
fn check_local(url: &str) -> anyhow::Result<()> {
    if url.starts_with("sqlite:") {
        return Ok(());
    }
    let host = url
        .split_once('@')
        .map_or(url, |(_, h)| h)
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://");
    anyhow::ensure!(
        host.starts_with("127.0.0.1") || host.starts_with("localhost"),
        "the database must be on this machine (127.0.0.1)"
    );
    Ok(())
}
