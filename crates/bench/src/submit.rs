//! `lms-bench submit`: public lead submissions through the gateway's REST front.
//!
//! Set-up (not timed): log in as an administrator, create a product with a unique code,
//! fetch one render package per planned submission (a form token is single use) and build
//! every request body. Then a short warm-up, the closed loop and, when asked, the open loop.

use crate::cpu;
use crate::data;
use crate::load;
use crate::stats::Report;
use anyhow::Context;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Options of `submit` (and of the gateway half of `all`).
#[derive(Debug, Clone, clap::Args)]
pub struct SubmitArgs {
    /// Administrator's username or e-mail.
    #[arg(long, default_value = "admin")]
    pub admin_user: String,
    /// Administrator's password.
    #[arg(long, env = "LMS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Submissions in flight in the closed loop.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Timed submissions in the closed loop.
    #[arg(long, default_value_t = 5000)]
    pub requests: usize,
    /// Untimed submissions before the closed loop (connections, caches).
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    /// Arrival rate of the open loop, submissions per second (no open loop when absent).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Length of the open loop, in seconds.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// The data file.
    #[arg(long, default_value_t = data::default_csv())]
    pub csv: String,
    /// Process id of `lms serve`, to report its CPU time per submission (Linux).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// Figures of one `submit` run.
pub struct SubmitOutcome {
    /// Render-package fetches (set-up, at the same concurrency; for profiling).
    pub render: Report,
    /// The closed loop.
    pub closed: Report,
    /// The open loop, when a rate was given.
    pub open: Option<Report>,
}

/// Runs the gateway benchmark against `gateway` (e.g. `http://127.0.0.1:8080`).
pub async fn run(gateway: &str, args: &SubmitArgs) -> anyhow::Result<SubmitOutcome> {
    let mut bench = Prepared::new(gateway, args).await?;
    bench.warm_up().await?;
    let closed = bench.closed(args.requests).await?;
    println!("{closed}");
    let open = bench.open().await?;
    Ok(SubmitOutcome {
        render: bench.render.clone(),
        closed,
        open,
    })
}

/// Submission bodies ready to send (each with its own form token), consumed in order by
/// the timed phases.
pub struct Prepared {
    http: reqwest::Client,
    url: Arc<String>,
    bodies: Arc<Vec<Bytes>>,
    /// The next unused body.
    next: usize,
    args: SubmitArgs,
    /// The render-package fetches of the set-up.
    pub render: Report,
}

impl Prepared {
    /// Logs in, creates the product and fetches a render package for every submission
    /// the options plan (warm-up, closed loop, open loop).
    pub async fn new(gateway: &str, args: &SubmitArgs) -> anyhow::Result<Self> {
        let base = gateway.trim_end_matches('/').to_string();
        anyhow::ensure!(
            base.starts_with("http://127.0.0.1") || base.starts_with("http://localhost"),
            "the gateway must be on this machine (http://127.0.0.1:PORT)"
        );
        let password = args
            .admin_password
            .clone()
            .context("--admin-password (or LMS_ADMIN_PASSWORD) is required")?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency.max(64) * 2)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(60))
            .build()?;

        let token = login(&http, &base, &args.admin_user, &password).await?;
        let code =
            format!("BENCH_{}", uuid::Uuid::new_v4().simple()).to_uppercase()[..20].to_string();
        let (status, body) = send_json(
            http.post(format!("{base}/config/api/products"))
                .bearer_auth(&token)
                .json(&data::product(&code)),
        )
        .await?;
        anyhow::ensure!(status == 201, "create product {code}: {status} {body}");

        let rows = Arc::new(data::read_rows(std::path::Path::new(&args.csv))?);
        let total = args.warmup + args.requests + open_count(args);
        eprintln!("product {code}: fetching {total} render packages");
        let (render, bodies) = prefetch(&http, &base, &code, rows, args.concurrency, total).await?;
        eprintln!("{render}");
        Ok(Self {
            http,
            url: Arc::new(format!("{base}/lead/api/leads")),
            bodies: Arc::new(bodies),
            next: 0,
            args: args.clone(),
            render,
        })
    }

    /// Submission `i` of the next `n` unused bodies.
    fn take(&mut self, n: usize) -> anyhow::Result<impl Fn(usize) -> SubmitFuture + use<>> {
        let offset = self.next;
        anyhow::ensure!(
            offset + n <= self.bodies.len(),
            "only {} prepared submissions left, {n} wanted",
            self.bodies.len() - offset
        );
        self.next += n;
        let (http, url, bodies) = (self.http.clone(), self.url.clone(), self.bodies.clone());
        Ok(move |i: usize| {
            Box::pin(submit_one(
                http.clone(),
                url.clone(),
                bodies[offset + i].clone(),
            )) as SubmitFuture
        })
    }

    /// The untimed warm-up (connections, caches).
    pub async fn warm_up(&mut self) -> anyhow::Result<()> {
        if self.args.warmup > 0 {
            let op = self.take(self.args.warmup)?;
            let (w, _) = load::closed(
                "warm-up".into(),
                self.args.concurrency,
                self.args.warmup,
                op,
            )
            .await?;
            eprintln!("{w}");
        }
        Ok(())
    }

    /// A closed loop of `n` submissions at the configured concurrency.
    pub async fn closed(&mut self, n: usize) -> anyhow::Result<Report> {
        let op = self.take(n)?;
        let before = cpu::Snapshot::take(self.args.server_pid);
        let (mut closed, _) = load::closed(
            format!(
                "gateway submit, closed loop ({} in flight)",
                self.args.concurrency
            ),
            self.args.concurrency,
            n,
            op,
        )
        .await?;
        closed.cpu = usage(before, self.args.server_pid, closed.ok);
        Ok(closed)
    }

    /// The open loop, when the options ask for one; printed as it ends.
    pub async fn open(&mut self) -> anyhow::Result<Option<Report>> {
        let Some(rate) = self.args.rate else {
            return Ok(None);
        };
        // Let the closed loop's backlog (event followers, WAL) settle first.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let n = open_count(&self.args);
        let op = self.take(n)?;
        let before = cpu::Snapshot::take(self.args.server_pid);
        let mut report = load::open(
            format!(
                "gateway submit, open loop ({rate}/s for {} s)",
                self.args.duration
            ),
            rate,
            n,
            op,
        )
        .await?;
        report.cpu = usage(before, self.args.server_pid, report.ok);
        println!("{report}");
        Ok(Some(report))
    }
}

/// One submission in flight.
type SubmitFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Submissions of the open loop.
fn open_count(args: &SubmitArgs) -> usize {
    args.rate
        .map(|r| (r * args.duration as f64).round() as usize)
        .unwrap_or(0)
}

/// CPU time per operation since `before`.
fn usage(before: Option<cpu::Snapshot>, server_pid: Option<u32>, ops: u64) -> Option<cpu::Usage> {
    let after = cpu::Snapshot::take(server_pid)?;
    Some(cpu::Usage::between(&before?, &after, ops))
}

/// Logs in and returns the access token.
async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let (status, body) = send_json(
        http.post(format!("{base}/uam/api/auth/login"))
            .json(&json!({"usernameOrEmail": user, "password": password})),
    )
    .await?;
    anyhow::ensure!(status == 200, "login as {user}: {status} {body}");
    body["data"]["accessToken"]
        .as_str()
        .map(str::to_string)
        .context("login answer without data.accessToken")
}

/// Fetches `total` render packages and builds the submission body of each (row `i` of the
/// file, cycled). Returns the fetch report and the bodies in order.
async fn prefetch(
    http: &reqwest::Client,
    base: &str,
    code: &str,
    rows: Arc<Vec<serde_json::Map<String, Value>>>,
    concurrency: usize,
    total: usize,
) -> anyhow::Result<(Report, Vec<Bytes>)> {
    let url = Arc::new(format!(
        "{base}/config/api/products/{code}/lead-form/render-package"
    ));
    let code = Arc::new(code.to_string());
    let http = http.clone();
    let (report, mut bodies) = load::closed(
        format!("render-package fetch, set-up ({concurrency} in flight)"),
        concurrency,
        total,
        move |i| {
            let (http, url, code, rows) = (http.clone(), url.clone(), code.clone(), rows.clone());
            async move {
                let (status, pkg) = send_json(http.get(url.as_str()))
                    .await
                    .map_err(|e| e.to_string())?;
                if status != 200 {
                    return Err(format!("render package: {status} {pkg}"));
                }
                let body = json!({
                    "productCode": code.as_str(),
                    "formData": rows[i % rows.len()],
                    "configHash": pkg["configHash"],
                    "signature": pkg["signature"],
                });
                serde_json::to_vec(&body)
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            }
        },
    )
    .await?;
    anyhow::ensure!(
        report.errors == 0,
        "{} render-package fetches failed: {}",
        report.errors,
        report.first_error.as_deref().unwrap_or("")
    );
    bodies.sort_unstable_by_key(|(i, _)| *i);
    Ok((report, bodies.into_iter().map(|(_, b)| b).collect()))
}

/// One `POST /lead/api/leads`; anything but 201 is an error.
async fn submit_one(http: reqwest::Client, url: Arc<String>, body: Bytes) -> Result<(), String> {
    let res = http
        .post(url.as_str())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = res.status().as_u16();
    // Read the whole answer so the connection goes back to the pool.
    let text = res.bytes().await.map_err(|e| format!("transport: {e}"))?;
    if status == 201 {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&text);
        Err(format!(
            "{status} {}",
            text.chars().take(300).collect::<String>()
        ))
    }
}

/// Sends `req`; returns the status and the JSON answer (`Null` when empty, a string when
/// not JSON).
async fn send_json(req: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let res = req.send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}
