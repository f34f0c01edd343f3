//! The `lms` command: `serve` (all services and the gateway, or `--only` one), `migrate`,
//! and `admin create-user`.

use clap::{Parser, Subcommand};
use lms::admin::CreateUser;
use lms::mesh::{self, Part};
use lms::settings::{CONFIG_HELP, LmsConfig};
use lms_platform::auth::Role;
use std::io::Read;
use std::path::PathBuf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "lms", version, about = "LMS, the lead management system")]
struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder (default ./lms-data).
    #[arg(long, global = true, env = "LMS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the system: every service and the gateway in one process (embedded SQLite by
    /// default), or one part with --only for the distributed mode.
    #[command(after_help = CONFIG_HELP)]
    Serve {
        /// Run only this part (distributed mode; peers' addresses from configuration).
        #[arg(long, value_enum)]
        only: Option<Part>,
    },
    /// Creates or upgrades every service's database schema, then exits.
    #[command(after_help = CONFIG_HELP)]
    Migrate,
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Creates a user (e.g. the first ADMIN). The password comes from LMS_ADMIN_PASSWORD or,
    /// when unset, the first line of standard input.
    CreateUser {
        /// Login name.
        #[arg(long)]
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Role; repeat for several (ADMIN, MANAGER, AGENT).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Given name.
        #[arg(long, default_value = "")]
        first_name: String,
        /// Family name.
        #[arg(long, default_value = "")]
        last_name: String,
        /// The password (prefer stdin; a command line is visible to other users).
        #[arg(long, env = "LMS_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// PostgreSQL only: repairs the lead event stream after the database was copied
    /// logically to another server (pg_dump/restore), when the lead service logs that the
    /// event sequencer's watermark is ahead of the server. Lead writes wait while it runs.
    RepairEventPositions,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cfg = LmsConfig::load(cli.config.as_deref(), cli.data_dir.clone())?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cfg.runtime.worker_threads {
        rt.worker_threads(n);
    }
    rt.enable_all().build()?.block_on(run(cli, cfg))
}

async fn run(cli: Cli, cfg: LmsConfig) -> anyhow::Result<()> {
    let service_name = match &cli.command {
        Command::Serve { only: Some(p) } => format!("lms-{}", p.name()),
        _ => "lms".to_string(),
    };
    let _telemetry = lms_platform::telemetry::init(
        &service_name,
        cfg.telemetry.log_format == "json",
        cfg.telemetry.otlp_endpoint.as_deref(),
    );
    match cli.command {
        Command::Serve { only } => serve(cfg, only).await,
        Command::Migrate => mesh::migrate_all(&cfg).await,
        Command::Admin {
            command: AdminCommand::RepairEventPositions,
        } => {
            let db = mesh::open_db(&cfg, Part::Lead).await?;
            match lms_lead::repair_event_positions(&db).await? {
                Some(n) => println!("event positions repaired; {n} events numbered"),
                None => println!("event positions need no repair"),
            }
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    username,
                    email,
                    roles,
                    first_name,
                    last_name,
                    password,
                },
        } => {
            let roles = roles
                .iter()
                .map(|r| {
                    Role::parse(&r.to_ascii_uppercase()).ok_or_else(|| {
                        anyhow::anyhow!("unknown role {r:?}; use ADMIN, MANAGER or AGENT")
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = match password {
                Some(p) => p,
                None => read_password_from_stdin()?,
            };
            let first_name = if first_name.is_empty() {
                username.clone()
            } else {
                first_name
            };
            let last_name = if last_name.is_empty() {
                "-".to_string()
            } else {
                last_name
            };
            let id = lms::admin::create_user(
                &cfg,
                CreateUser {
                    username: username.clone(),
                    email,
                    password,
                    first_name,
                    last_name,
                    roles,
                },
            )
            .await?;
            println!("created user {username} ({id})");
            Ok(())
        }
    }
}

fn read_password_from_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let line = text.lines().next().unwrap_or_default().to_string();
    anyhow::ensure!(
        !line.is_empty(),
        "no password: set LMS_ADMIN_PASSWORD or pipe it on stdin"
    );
    Ok(line)
}

async fn serve(cfg: LmsConfig, only: Option<Part>) -> anyhow::Result<()> {
    let embedded = only.is_none();
    let parts: Vec<Part> = match only {
        Some(p) => vec![p],
        None => {
            let mut all = mesh::SERVICES.to_vec();
            all.push(Part::Gateway);
            all
        }
    };
    let data_dir = cfg.data_dir.clone();
    let grace_ms = cfg.server.shutdown_grace_ms;
    // Kept to look for an administrator once the databases are migrated.
    let hint_cfg = embedded.then(|| cfg.clone());
    let running = mesh::start(cfg, &parts, embedded, mesh::system_clock()).await?;
    for (name, addr) in &running.bound.services {
        tracing::info!(service = name, %addr, "service ready");
        println!("{name} gRPC listening on {addr}");
    }
    // Looked up before readiness is announced, so what follows it is settled.
    let no_admin = match &hint_cfg {
        Some(c) => !lms::admin::has_admin(c).await.unwrap_or(false),
        None => false,
    };
    if let Some(addr) = running.bound.gateway {
        tracing::info!(%addr, "gateway ready: REST, grpc-web and gRPC");
        println!(
            "LMS is running: http://{addr} (data in {})",
            data_dir.display()
        );
        if no_admin {
            println!(
                "No administrator yet. Create one:\n  lms admin create-user --username admin --email admin@example.com --role ADMIN   (password on stdin)"
            );
        }
    }
    let mut running = running;
    let grace = std::time::Duration::from_millis(grace_ms);
    tokio::select! {
        first = running.join_next() => {
            // A server stopped on its own: stop the others and report why.
            running.shutdown();
            let rest = drain(running, grace).await;
            first.unwrap_or(Ok(())).and(rest)
        }
        () = stop_signal() => {
            tracing::info!("shutting down");
            running.shutdown();
            drain(running, grace).await
        }
    }
}

/// Waits for the servers to finish their open requests, at most `grace`; connections still
/// open then (streams that never end on their own) are closed as the process exits.
async fn drain(running: mesh::Running, grace: std::time::Duration) -> anyhow::Result<()> {
    match tokio::time::timeout(grace, running.wait()).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!(
                grace_ms = grace.as_millis(),
                "connections still open after the shutdown grace period; closing them"
            );
            Ok(())
        }
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
