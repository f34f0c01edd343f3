//! Boots the real mesh (uam, config, lead, notify, report, each on port 0 against its own
//! fresh database) and the gateway in front of it, and offers small REST helpers.

use chrono::Utc;
use lms_platform::Clock;
use lms_platform::auth::Role;
use lms_platform::clock::ManualClock;
use lms_platform::db::Db;
use lms_platform::runtime::PeerUrls;
use lms_testkit::{Backend, TestDb};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The password of every account the helpers create.
pub const PASSWORD: &str = "a perfectly fine passphrase";

/// The browser origin the test gateways allow.
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// The gateway configuration of the tests.
pub fn gateway_config() -> lms_gateway::Config {
    lms_gateway::Config {
        cors_allowed_origins: vec![ALLOWED_ORIGIN.to_string()],
        ..Default::default()
    }
}

/// A gateway whose upstreams are all a closed port: for what the gateway decides alone.
pub struct Bare {
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
}

impl Bare {
    pub async fn spawn() -> Self {
        let dead = lms_platform::grpc_client::lazy_channel("http://127.0.0.1:9").unwrap();
        let up = lms_gateway::Upstreams {
            uam: dead.clone(),
            config: dead.clone(),
            lead: dead.clone(),
            notify: dead.clone(),
            report: dead,
        };
        let (base, addr) = serve_gateway(gateway_config(), up).await;
        Self {
            base,
            addr,
            http: reqwest::Client::new(),
        }
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }
}

async fn serve_gateway(
    cfg: lms_gateway::Config,
    up: lms_gateway::Upstreams,
) -> (String, SocketAddr) {
    let (listener, addr) = lms_testkit::listener().await.unwrap();
    tokio::spawn(async move {
        if let Err(e) = lms_gateway::serve(&cfg, up, listener, std::future::pending()).await {
            eprintln!("gateway failed: {e:#}");
        }
    });
    (lms_testkit::url(addr), addr)
}

/// The whole mesh behind a gateway.
pub struct Stack {
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub urls: PeerUrls,
    pub uam_db: Db,
    /// uam's clock (starts five minutes in the past, so tests can step TOTP windows
    /// forward while tokens stay valid for the system clock of the verifiers).
    pub uam_clock: ManualClock,
    _dbs: Vec<TestDb>,
    _dirs: Vec<tempfile::TempDir>,
}

async fn bind() -> (TcpListener, String) {
    let (l, a) = lms_testkit::listener().await.unwrap();
    (l, lms_testkit::url(a))
}

impl Stack {
    pub async fn spawn(backend: Backend) -> Self {
        let (uam_l, uam_url) = bind().await;
        let (config_l, config_url) = bind().await;
        let (lead_l, lead_url) = bind().await;
        let (notify_l, notify_url) = bind().await;
        let (report_l, report_url) = bind().await;
        let urls = PeerUrls {
            uam: uam_url,
            config: config_url,
            lead: lead_url,
            notify: notify_url,
            report: report_url,
        };
        let mut dbs = Vec::new();
        let mut dirs = Vec::new();
        let uam_clock = ManualClock::new(Utc::now() - chrono::Duration::minutes(5));
        let mut runtime = |clock: lms_platform::clock::SharedClock| {
            let dir = tempfile::tempdir().unwrap();
            let rt = lms_testkit::runtime(urls.clone(), clock, dir.path().to_path_buf()).unwrap();
            dirs.push(dir);
            rt
        };
        let uam_rt = runtime(Arc::new(uam_clock.clone()));
        let config_rt = runtime(lms_testkit::system_clock());
        let lead_rt = runtime(lms_testkit::system_clock());
        let notify_rt = runtime(lms_testkit::system_clock());
        let report_rt = runtime(lms_testkit::system_clock());

        let mut fresh = async |schema: &str| {
            let t = TestDb::new(backend).await.unwrap();
            let db = t.connect(schema).await.unwrap();
            dbs.push(t);
            db
        };
        let uam_db = fresh("uam").await;
        let config_db = fresh("config").await;
        let lead_db = fresh("lead").await;
        let notify_db = fresh("notify").await;
        let report_db = fresh("report").await;

        lms_uam::migrate(&uam_db).await.unwrap();
        let uam_cfg = lms_uam::Config {
            ip_attempts_burst: 10_000,
            ip_attempts_per_minute: 10_000,
            ..Default::default()
        };
        let routes = lms_uam::build(&uam_cfg, uam_db.clone(), &uam_rt)
            .await
            .unwrap();
        lms_testkit::serve(uam_l, routes, lms_uam::SERVICE_NAMES, &uam_rt);

        lms_config::migrate(&config_db).await.unwrap();
        let routes = lms_config::build(&Default::default(), config_db, &config_rt)
            .await
            .unwrap();
        lms_testkit::serve(config_l, routes, lms_config::SERVICE_NAMES, &config_rt);

        lms_lead::migrate(&lead_db).await.unwrap();
        let routes = lms_lead::build(&Default::default(), lead_db, &lead_rt)
            .await
            .unwrap();
        lms_testkit::serve(lead_l, routes, lms_lead::SERVICE_NAMES, &lead_rt);

        lms_notify::migrate(&notify_db).await.unwrap();
        let routes = lms_notify::build(&Default::default(), notify_db, &notify_rt)
            .await
            .unwrap();
        lms_testkit::serve(notify_l, routes, lms_notify::SERVICE_NAMES, &notify_rt);

        lms_report::migrate(&report_db).await.unwrap();
        let routes = lms_report::build(&Default::default(), report_db, &report_rt)
            .await
            .unwrap();
        lms_testkit::serve(report_l, routes, lms_report::SERVICE_NAMES, &report_rt);

        let ch = |u: &str| lms_platform::grpc_client::lazy_channel(u).unwrap();
        let up = lms_gateway::Upstreams {
            uam: ch(&urls.uam),
            config: ch(&urls.config),
            lead: ch(&urls.lead),
            notify: ch(&urls.notify),
            report: ch(&urls.report),
        };
        let (base, addr) = serve_gateway(gateway_config(), up).await;
        Self {
            base,
            addr,
            http: reqwest::Client::new(),
            urls,
            uam_db,
            uam_clock,
            _dbs: dbs,
            _dirs: dirs,
        }
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn authed(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.req(method, path).bearer_auth(token)
    }

    /// Creates an account directly in uam (as `lms admin create-user` does).
    pub async fn user(&self, username: &str, roles: &[Role]) -> String {
        let u = lms_uam::create_user(
            &self.uam_db,
            &self.uam_clock,
            lms_uam::NewUser {
                username: username.to_string(),
                email: format!("{username}@example.com"),
                password: PASSWORD.to_string(),
                first_name: "First".to_string(),
                last_name: "Last".to_string(),
                roles: roles.to_vec(),
            },
        )
        .await
        .unwrap();
        u.id
    }

    /// Logs in through the REST API; the envelope's `data`.
    pub async fn login(&self, username: &str) -> Value {
        let (status, body) = call(
            self.req(Method::POST, "/uam/api/auth/login")
                .json(&json!({"usernameOrEmail": username, "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    /// A new user with `roles`, signed in: (user id, access token).
    pub async fn signed_in(&self, username: &str, roles: &[Role]) -> (String, String) {
        let id = self.user(username, roles).await;
        let data = self.login(username).await;
        (id, data["accessToken"].as_str().unwrap().to_string())
    }

    /// Creates the test product through the REST API (as `admin`); its JSON.
    pub async fn product(&self, admin: &str, code: &str) -> Value {
        let (status, body) = call(
            self.authed(Method::POST, "/config/api/products", admin)
                .json(&product_body(code)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Fetches a render package through the REST API.
    pub async fn render(&self, code: &str) -> Value {
        let path = format!("/config/api/products/{code}/lead-form/render-package");
        let (status, body) = call(self.req(Method::GET, &path)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Submits `form` for `code` with a fresh render package; status and body.
    pub async fn submit(&self, code: &str, form: Value) -> (u16, Value) {
        let pkg = self.render(code).await;
        call(self.req(Method::POST, "/lead/api/leads").json(&json!({
            "productCode": code,
            "formData": form,
            "configHash": pkg["configHash"],
            "signature": pkg["signature"],
        })))
        .await
    }

    /// The uam clock's now.
    pub fn uam_now(&self) -> chrono::DateTime<Utc> {
        self.uam_clock.now()
    }
}

/// The product every lead test uses: a city drop-down, an age, an e-mail, and two rules.
pub fn product_body(code: &str) -> Value {
    json!({
        "productCode": code,
        "name": "Home loans",
        "formSchema": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "x-dictionary": "cities"},
                "age": {"type": "integer", "minimum": 18},
                "email": {"type": "string"}
            },
            "required": ["city"]
        },
        "dictionaries": {"cities": [{"value": "PUNE", "label": "Pune"}, {"value": "DELHI", "label": "Delhi"}]},
        "scoringRules": {
            "rules": [
                {"id": "r-city", "field": "city", "operator": "EQUALS", "value": "PUNE", "points": 30, "reason": "home market"},
                {"id": "r-age", "field": "age", "operator": "GTE", "value": 30, "points": 25, "reason": "settled"}
            ],
            "priorityBands": [{"minScore": 50, "priority": "HIGH"}, {"minScore": 25, "priority": "MEDIUM"}],
            "defaultPriority": "LOW"
        },
        "settings": {"captchaMode": "NONE", "allowedOrigins": ["https://shop.example.com", ALLOWED_ORIGIN], "duplicatePolicy": "ALLOW"},
        "styling": {"primaryColor": "#0055aa"}
    })
}

/// Sends a request; the status and the JSON body (`Null` when empty or not JSON).
pub async fn call(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let res = rb.send().await.unwrap();
    let status = res.status().as_u16();
    (status, body_of(res).await)
}

/// The JSON body of a response (`Null` when empty or not JSON).
pub async fn body_of(res: Response) -> Value {
    let bytes = res.bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// Asserts the error JSON: status, reason, a request id, and (when given) the fields named.
pub fn assert_error(status: u16, body: &Value, want_status: u16, reason: &str, fields: &[&str]) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["status"], want_status, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["requestId"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    let named: Vec<&str> = body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    for f in fields {
        assert!(named.contains(f), "{f} not named in {body}");
    }
}
