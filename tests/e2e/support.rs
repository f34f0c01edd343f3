//! Starting the real binary and talking to it.

use lms_testkit::{Backend, TestDb};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The password of the admin every system gets.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple 42";

/// The `lms` binary under test: `LMS_TEST_BIN` (scripts/test builds a release binary) or the
/// one cargo built for this test.
pub fn bin() -> String {
    std::env::var("LMS_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lms").to_string())
}

/// A running `lms serve` with its own data.
pub struct System {
    child: Child,
    /// Gateway base URL.
    pub base: String,
    /// Gateway address.
    pub gateway: SocketAddr,
    /// Each service's gRPC address.
    pub services: HashMap<String, SocketAddr>,
    /// HTTP client.
    pub http: reqwest::Client,
    stdout: Arc<Mutex<Vec<String>>>,
    data: tempfile::TempDir,
    env: Vec<(String, String)>,
    _db: TestDb,
}

impl System {
    /// Starts the whole system on `backend` with every port chosen by the OS.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with_env(backend, &[]).await
    }

    /// Starts the whole system with extra environment variables.
    pub async fn start_with_env(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let db = TestDb::new(backend).await.expect("test database");
        let data = tempfile::tempdir().expect("temp dir");
        let mut env: Vec<(String, String)> = vec![
            ("LMS_DATA_DIR".into(), data.path().display().to_string()),
            ("LMS_GATEWAY__ADDR".into(), "127.0.0.1:0".into()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        for svc in ["UAM", "CONFIG", "LEAD", "NOTIFY", "REPORT"] {
            env.push((format!("LMS_{svc}__ADDR"), "127.0.0.1:0".into()));
        }
        if backend == Backend::Postgres {
            env.push(("LMS_DATABASE__URL".into(), db.url.clone()));
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (child, gateway, services, stdout) = spawn_serve(&env);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        let sys = Self {
            child,
            base: format!("http://{gateway}"),
            gateway,
            services,
            http,
            stdout,
            data,
            env,
            _db: db,
        };
        sys.create_user("admin", "admin@example.com", ADMIN_PASSWORD, "ADMIN");
        sys
    }

    /// Runs `lms admin create-user` against this system's data.
    pub fn create_user(&self, username: &str, email: &str, password: &str, role: &str) {
        let mut cmd = Command::new(bin());
        cmd.args([
            "admin",
            "create-user",
            "--username",
            username,
            "--email",
            email,
            "--role",
            role,
        ]);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.env("LMS_ADMIN_PASSWORD", password);
        let out = cmd.output().expect("lms admin create-user");
        assert!(
            out.status.success(),
            "create-user failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits up to `within` for a stdout line containing `needle`; true when one came.
    #[allow(dead_code)]
    pub fn stdout_shows(&self, needle: &str, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            if self
                .stdout
                .lock()
                .expect("stdout lines")
                .iter()
                .any(|l| l.contains(needle))
            {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process and starts it again on the same data and database.
    #[allow(dead_code)]
    pub fn restart(&mut self) {
        let status = self.terminate(Duration::from_secs(30));
        assert!(status.is_some(), "lms serve did not stop for a restart");
        let (child, gateway, services, stdout) = spawn_serve(&self.env);
        self.child = child;
        self.gateway = gateway;
        self.base = format!("http://{gateway}");
        self.services = services;
        self.stdout = stdout;
    }

    /// The data folder.
    #[allow(dead_code)]
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// `POST path` with a JSON body and optional bearer token; returns status and JSON.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        send(req).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.http.put(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        send(req).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        send(req).await
    }

    /// Logs in and returns the login envelope's `data`.
    pub async fn login(&self, user: &str, password: &str) -> Value {
        let (status, body) = self
            .post(
                "/uam/api/auth/login",
                None,
                &json!({"usernameOrEmail": user, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "login {user}: {body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["statusCode"], 200);
        assert!(body["timestamp"].is_string());
        body["data"].clone()
    }

    /// An access token of the admin.
    pub async fn admin_token(&self) -> String {
        let data = self.login("admin", ADMIN_PASSWORD).await;
        data["accessToken"].as_str().expect("token").to_string()
    }
}

impl System {
    /// Sends SIGTERM and waits up to `within` for the process to exit; its status, or
    /// `None` when it is still running.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `lms serve` with `env` and waits for its readiness lines; every stdout line is
/// kept (the ones after readiness arrive in the background).
#[allow(clippy::type_complexity)]
fn spawn_serve(
    env: &[(String, String)],
) -> (
    Child,
    SocketAddr,
    HashMap<String, SocketAddr>,
    Arc<Mutex<Vec<String>>>,
) {
    let mut cmd = Command::new(bin());
    cmd.arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start lms");
    let stdout = child.stdout.take().expect("stdout");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let kept = lines.clone();
    // Keeps draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            kept.lock().expect("stdout lines").push(line.clone());
            let _ = tx.send(line);
        }
    });
    let mut services = HashMap::new();
    let gateway = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("lms serve did not report readiness");
        if let Some((name, rest)) = line.split_once(" gRPC listening on ") {
            services.insert(name.to_string(), rest.trim().parse().expect("addr"));
        }
        if let Some(rest) = line.strip_prefix("LMS is running: http://") {
            let addr = rest.split_whitespace().next().expect("addr");
            break addr.parse::<SocketAddr>().expect("gateway addr");
        }
    };
    (child, gateway, services, lines)
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}
