//! Boots the real config service (and uam, for real user tokens) on port 0 against a
//! fresh database, and builds requests from the REST JSON shape.

use chrono::Utc;
use lms_platform::ApiError;
use lms_platform::Runtime;
use lms_platform::auth::Role;
use lms_platform::clock::ManualClock;
use lms_platform::grpc_client::MeshChannel;
use lms_platform::json;
use lms_platform::runtime::PeerUrls;
use lms_proto::config::v1 as pb;
use lms_proto::uam::v1::auth_service_client::AuthServiceClient;
use lms_proto::uam::v1::{LoginRequest, login_response};
use lms_testkit::{Backend, TestDb};
use pb::product_service_client::ProductServiceClient;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The uam service shared by the whole test binary (it runs on its own thread and
/// runtime, so it outlives each test's runtime), with one user per role.
pub struct Uam {
    /// Its URL.
    pub url: String,
    /// Access tokens and user ids, by role.
    pub admin: (String, String),
    /// A MANAGER.
    pub manager: (String, String),
    /// An AGENT.
    pub agent: (String, String),
}

static UAM: OnceLock<Uam> = OnceLock::new();

/// Boots uam on first use and logs one user of each role in.
pub fn uam() -> &'static Uam {
    UAM.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("uam runtime");
            rt.block_on(async move {
                let db = TestDb::new(Backend::Sqlite).await.expect("uam db");
                let dir = db.dir().expect("sqlite dir");
                let runtime =
                    lms_testkit::runtime(PeerUrls::default(), lms_testkit::system_clock(), dir)
                        .expect("uam runtime");
                let conn = db.connect("uam").await.expect("uam connect");
                lms_uam::migrate(&conn).await.expect("uam migrate");
                let mut users = Vec::new();
                for (name, role) in [
                    ("admin", Role::Admin),
                    ("manager", Role::Manager),
                    ("agent", Role::Agent),
                ] {
                    let u = lms_uam::create_user(
                        &conn,
                        &lms_platform::SystemClock,
                        lms_uam::NewUser {
                            username: format!("config-{name}"),
                            email: format!("config-{name}@example.com"),
                            password: PASSWORD.to_string(),
                            first_name: name.to_string(),
                            last_name: "Tester".to_string(),
                            roles: vec![role],
                        },
                    )
                    .await
                    .expect("create user");
                    users.push((format!("config-{name}"), u.id));
                }
                let routes = lms_uam::build(&lms_uam::Config::default(), conn, &runtime)
                    .await
                    .expect("uam build");
                let (listener, addr) = lms_testkit::listener().await.expect("uam listener");
                lms_testkit::serve(listener, routes, lms_uam::SERVICE_NAMES, &runtime);
                let url = lms_testkit::url(addr);
                let mut client = AuthServiceClient::new(
                    lms_platform::grpc_client::lazy_channel(&url).expect("uam channel"),
                );
                let mut tokens = Vec::new();
                for (username, id) in users {
                    let r = client
                        .login(LoginRequest {
                            username_or_email: username,
                            password: PASSWORD.to_string(),
                        })
                        .await
                        .expect("login")
                        .into_inner();
                    let Some(login_response::Result::Tokens(t)) = r.result else {
                        panic!("login did not return tokens");
                    };
                    tokens.push((t.access_token, id));
                }
                let mut it = tokens.into_iter();
                let (admin, manager, agent) = (
                    it.next().expect("admin"),
                    it.next().expect("manager"),
                    it.next().expect("agent"),
                );
                tx.send(Uam {
                    url,
                    admin,
                    manager,
                    agent,
                })
                .expect("send");
                let _keep = db;
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("uam started")
    })
}

const PASSWORD: &str = "correct-horse-battery-staple-42";

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// A channel that acts as a signed-in user.
pub type UserChannel = InterceptedService<Channel, Bearer>;

/// A running config service.
pub struct App {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its runtime (mesh key, peers).
    pub rt: Runtime,
    /// Its clock.
    pub clock: ManualClock,
    /// Its data folder (keys).
    pub data_dir: PathBuf,
    _db: Arc<TestDb>,
    _dir: Option<Arc<tempfile::TempDir>>,
}

/// Options for [`App::spawn_with`].
#[derive(Default)]
pub struct Opts {
    /// Reuse this database (a second instance over the same data).
    pub db: Option<Arc<TestDb>>,
    /// Reuse this data folder (same generated key).
    pub data_dir: Option<PathBuf>,
    /// Clock offset from now, in seconds.
    pub clock_offset_secs: i64,
    /// Service configuration.
    pub cfg: Option<lms_config::Config>,
}

impl App {
    /// A fresh service on `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Opts::default()).await
    }

    /// A service with options.
    pub async fn spawn_with(backend: Backend, opts: Opts) -> Self {
        let db = match opts.db {
            Some(db) => db,
            None => Arc::new(TestDb::new(backend).await.expect("test database")),
        };
        let (dir, data_dir) = match opts.data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                let p = t.path().to_path_buf();
                (Some(Arc::new(t)), p)
            }
        };
        let clock =
            ManualClock::new(Utc::now() + chrono::Duration::seconds(opts.clock_offset_secs));
        let rt = lms_testkit::runtime(
            PeerUrls {
                uam: uam().url.clone(),
                ..PeerUrls::default()
            },
            Arc::new(clock.clone()),
            data_dir.clone(),
        )
        .expect("runtime");
        let conn = db.connect("config").await.expect("connect");
        lms_config::migrate(&conn).await.expect("migrate");
        let cfg = opts.cfg.unwrap_or_default();
        let routes = lms_config::build(&cfg, conn, &rt).await.expect("build");
        let (listener, addr) = lms_testkit::listener().await.expect("listener");
        lms_testkit::serve(listener, routes, lms_config::SERVICE_NAMES, &rt);
        Self {
            addr,
            rt,
            clock,
            data_dir,
            _db: db,
            _dir: dir,
        }
    }

    /// The service's now.
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        lms_platform::Clock::now(&self.clock)
    }

    /// The database, to share with a second instance.
    pub fn db(&self) -> Arc<TestDb> {
        self._db.clone()
    }

    fn channel(&self) -> Channel {
        lms_platform::grpc_client::lazy_channel(&lms_testkit::url(self.addr)).expect("channel")
    }

    /// A client that authenticates as a mesh service.
    pub fn service(&self) -> ProductServiceClient<MeshChannel> {
        ProductServiceClient::new(self.rt.mesh(&self.channel()))
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> ProductServiceClient<Channel> {
        ProductServiceClient::new(self.channel())
    }

    fn as_user(&self, token: &str) -> ProductServiceClient<UserChannel> {
        let value = format!("Bearer {token}").parse().expect("header value");
        ProductServiceClient::new(InterceptedService::new(self.channel(), Bearer(value)))
    }

    /// A client acting as an ADMIN user (a real uam token).
    pub fn admin(&self) -> ProductServiceClient<UserChannel> {
        self.as_user(&uam().admin.0)
    }

    /// A client acting as a MANAGER.
    pub fn manager(&self) -> ProductServiceClient<UserChannel> {
        self.as_user(&uam().manager.0)
    }

    /// A client acting as an AGENT.
    pub fn agent(&self) -> ProductServiceClient<UserChannel> {
        self.as_user(&uam().agent.0)
    }

    /// A document-service client acting as a mesh service.
    pub fn documents(&self) -> pb::document_service_client::DocumentServiceClient<MeshChannel> {
        pb::document_service_client::DocumentServiceClient::new(self.rt.mesh(&self.channel()))
    }
}

/// The reason of an error status.
pub fn reason(status: &tonic::Status) -> String {
    ApiError::from_status(status).reason
}

/// The violated fields of an error status.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    ApiError::from_status(status)
        .violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// Asserts the status's code and reason.
#[track_caller]
pub fn assert_status(status: &tonic::Status, code: tonic::Code, why: &str) {
    assert_eq!(
        (status.code(), reason(status).as_str()),
        (code, why),
        "{status:?}"
    );
}

/// A small valid product in the REST shape (without its code).
pub fn content() -> Value {
    json!({
        "name": "Home loan",
        "formSchema": {"type": "object", "properties": {
            "city": {"type": "string", "x-dictionary": "cities"},
            "age": {"type": "integer", "minimum": 18}
        }},
        "dictionaries": {"cities": [{"value": "HN", "label": "Hà Nội"}]},
        "scoringRules": {
            "rules": [{"id": "r1", "field": "city", "operator": "EQUALS", "value": "HN",
                       "points": 10, "reason": "capital"}],
            "priorityBands": [{"minScore": 50, "priority": "HIGH"}],
            "defaultPriority": "LOW"
        },
        "settings": {"allowedOrigins": ["https://example.com"]}
    })
}

/// The config hash of [`content`], computed independently with Python's
/// `json.dumps(obj, sort_keys=True, separators=(',',':'), ensure_ascii=False)` over the
/// full content (settings defaults filled in, `styling: {}`); see the unit test in
/// `domain::hash`.
pub const CONTENT_HASH: &str = "5f949495a47f60220461705ddd07b71245e6994c728b154630c208e0e74de46e";

pub use lms_testkit::product_json::product;

/// Sets `path` (dotted, object keys only) in a JSON value.
pub fn set(v: &mut Value, path: &str, to: Value) {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = &mut cur[*p];
    }
    cur[parts[parts.len() - 1]] = to;
}

/// Creates a product as admin and returns it.
pub async fn create(app: &App, code: &str, v: &Value) -> pb::Product {
    app.admin()
        .create_product(pb::CreateProductRequest {
            product: Some(product(code, v)),
        })
        .await
        .expect("create product")
        .into_inner()
        .product
        .expect("product")
}

/// Tries to create a product as admin and returns the error.
pub async fn create_err(app: &App, code: &str, v: &Value) -> tonic::Status {
    app.admin()
        .create_product(pb::CreateProductRequest {
            product: Some(product(code, v)),
        })
        .await
        .expect_err("create must fail")
}

/// The JSON of a `Struct`.
pub fn to_json(s: Option<&prost_types::Struct>) -> Value {
    json::from_struct_opt(s)
}
