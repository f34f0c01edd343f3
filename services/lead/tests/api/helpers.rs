//! Boots uam, config and lead, signs users in, creates products and submits forms.

use chrono::Utc;
use lms_platform::ApiError;
use lms_platform::Runtime;
use lms_platform::auth::Role;
use lms_platform::clock::ManualClock;
use lms_platform::db::Db;
use lms_platform::grpc_client::MeshChannel;
use lms_platform::json;
use lms_platform::runtime::PeerUrls;
use lms_proto::config::v1 as cfg;
use lms_proto::config::v1::product_service_client::ProductServiceClient;
use lms_proto::lead::v1 as pb;
use lms_proto::lead::v1::lead_service_client::LeadServiceClient;
use lms_proto::uam::v1::auth_service_client::AuthServiceClient;
use lms_proto::uam::v1::{LoginRequest, login_response};
use lms_testkit::{Backend, TestDb};
use serde_json::{Value, json};
use std::sync::Arc;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

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

/// A lead client acting as a signed-in user.
pub type UserLead = LeadServiceClient<InterceptedService<Channel, Bearer>>;

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub token: String,
}

/// Three real services and four users.
pub struct App {
    pub rt: Runtime,
    pub clock: ManualClock,
    pub lead_url: String,
    pub config_url: String,
    pub uam_url: String,
    pub admin: Session,
    pub manager: Session,
    pub agent1: Session,
    pub agent2: Session,
    /// The lead service's database (for direct checks).
    pub lead_db: Db,
    config_addr: std::net::SocketAddr,
    config_db: Db,
    config_stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
    _dbs: Vec<TestDb>,
    _dir: tempfile::TempDir,
}

impl App {
    /// Boots uam, config and lead on `backend`, with an ADMIN, a MANAGER and two AGENTs.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Boots with a lead configuration tweak.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut lms_lead::Config)) -> Self {
        Self::spawn_full(backend, &lms_config::Config::default(), tweak).await
    }

    /// Boots with a config-service configuration and a lead configuration tweak.
    pub async fn spawn_full(
        backend: Backend,
        config_cfg: &lms_config::Config,
        tweak: impl FnOnce(&mut lms_lead::Config),
    ) -> Self {
        let uam_db = TestDb::new(backend).await.unwrap();
        let config_db = TestDb::new(backend).await.unwrap();
        let lead_db = TestDb::new(backend).await.unwrap();
        let (uam_l, uam_a) = lms_testkit::listener().await.unwrap();
        let (cfg_l, cfg_a) = lms_testkit::listener().await.unwrap();
        let (lead_l, lead_a) = lms_testkit::listener().await.unwrap();
        let urls = PeerUrls {
            uam: lms_testkit::url(uam_a),
            config: lms_testkit::url(cfg_a),
            lead: lms_testkit::url(lead_a),
            ..PeerUrls::default()
        };
        let clock = ManualClock::new(Utc::now() - chrono::Duration::minutes(5));
        let dir = tempfile::tempdir().unwrap();
        let rt =
            lms_testkit::runtime(urls.clone(), Arc::new(clock.clone()), dir.path().into()).unwrap();

        let udb = uam_db.connect("uam").await.unwrap();
        lms_uam::migrate(&udb).await.unwrap();
        let uam_cfg = lms_uam::Config {
            ip_attempts_burst: 10_000,
            ip_attempts_per_minute: 10_000,
            ..lms_uam::Config::default()
        };
        let routes = lms_uam::build(&uam_cfg, udb.clone(), &rt).await.unwrap();
        lms_testkit::serve(uam_l, routes, lms_uam::SERVICE_NAMES, &rt);

        let cdb = config_db.connect("config").await.unwrap();
        lms_config::migrate(&cdb).await.unwrap();
        let config_stop = Some(serve_config(cfg_l, config_cfg, cdb.clone(), &rt).await);

        let ldb = lead_db.connect("lead").await.unwrap();
        lms_lead::migrate(&ldb).await.unwrap();
        let mut lead_cfg = lms_lead::Config {
            agent_cache_seconds: 0,
            event_poll_ms: 50,
            ..lms_lead::Config::default()
        };
        tweak(&mut lead_cfg);
        let routes = lms_lead::build(&lead_cfg, ldb.clone(), &rt).await.unwrap();
        lms_testkit::serve(lead_l, routes, lms_lead::SERVICE_NAMES, &rt);

        let mut auth =
            AuthServiceClient::new(lms_platform::grpc_client::lazy_channel(&urls.uam).unwrap());
        let mut sessions = Vec::new();
        // Agents first: round-robin follows uam's creation order.
        for (name, role) in [
            ("agent1", Role::Agent),
            ("agent2", Role::Agent),
            ("admin", Role::Admin),
            ("manager", Role::Manager),
        ] {
            let u = lms_uam::create_user(
                &udb,
                &clock,
                lms_uam::NewUser {
                    username: name.to_string(),
                    email: format!("{name}@example.com"),
                    password: PASSWORD.to_string(),
                    first_name: name.to_string(),
                    last_name: "Tester".to_string(),
                    roles: vec![role],
                },
            )
            .await
            .unwrap();
            // uam lists users by creation time: keep the agents' order deterministic.
            clock.advance(chrono::Duration::seconds(1));
            let r = auth
                .login(LoginRequest {
                    username_or_email: name.to_string(),
                    password: PASSWORD.to_string(),
                })
                .await
                .unwrap()
                .into_inner();
            let Some(login_response::Result::Tokens(t)) = r.result else {
                panic!("no tokens for {name}");
            };
            sessions.push(Session {
                id: u.id,
                token: t.access_token,
            });
        }
        let mut it = sessions.into_iter();
        let (agent1, agent2, admin, manager) = (
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap(),
        );
        Self {
            rt,
            clock,
            lead_url: urls.lead,
            config_url: urls.config,
            uam_url: urls.uam.clone(),
            admin,
            manager,
            agent1,
            agent2,
            lead_db: ldb,
            config_addr: cfg_a,
            config_db: cdb,
            config_stop,
            _dbs: vec![uam_db, config_db, lead_db],
            _dir: dir,
        }
    }

    /// Stops the config service (graceful: open connections are closed).
    pub async fn stop_config(&mut self) {
        if let Some((stop, task)) = self.config_stop.take() {
            let _ = stop.send(());
            task.await.unwrap();
        }
    }

    /// (Re)starts the config service on its address, over the same database, with `cfg`
    /// (e.g. a rotated key set), as a restarted deployment would.
    pub async fn start_config(&mut self, cfg: &lms_config::Config) {
        self.stop_config().await;
        let listener = tokio::net::TcpListener::bind(self.config_addr)
            .await
            .unwrap();
        self.config_stop =
            Some(serve_config(listener, cfg, self.config_db.clone(), &self.rt).await);
    }

    fn channel(url: &str) -> Channel {
        lms_platform::grpc_client::lazy_channel(url).unwrap()
    }

    /// The lead service without credentials (the public).
    pub fn public(&self) -> LeadServiceClient<Channel> {
        LeadServiceClient::new(Self::channel(&self.lead_url))
    }

    /// The lead service as a user.
    pub fn lead_as(&self, s: &Session) -> UserLead {
        let value = format!("Bearer {}", s.token).parse().unwrap();
        LeadServiceClient::new(InterceptedService::new(
            Self::channel(&self.lead_url),
            Bearer(value),
        ))
    }

    /// The lead service as a mesh service.
    pub fn lead_service(&self) -> LeadServiceClient<MeshChannel> {
        LeadServiceClient::new(self.rt.mesh(&Self::channel(&self.lead_url)))
    }

    /// The config service as the ADMIN.
    pub fn config_admin(&self) -> ProductServiceClient<InterceptedService<Channel, Bearer>> {
        let value = format!("Bearer {}", self.admin.token).parse().unwrap();
        ProductServiceClient::new(InterceptedService::new(
            Self::channel(&self.config_url),
            Bearer(value),
        ))
    }

    /// uam's user administration as the ADMIN.
    pub fn users_admin(
        &self,
    ) -> lms_proto::uam::v1::user_service_client::UserServiceClient<
        InterceptedService<Channel, Bearer>,
    > {
        let value = format!("Bearer {}", self.admin.token).parse().unwrap();
        lms_proto::uam::v1::user_service_client::UserServiceClient::new(InterceptedService::new(
            Self::channel(&self.uam_url),
            Bearer(value),
        ))
    }

    /// Creates a product from its REST JSON shape.
    pub async fn create_product(&self, code: &str, content: &Value) -> cfg::Product {
        self.config_admin()
            .create_product(cfg::CreateProductRequest {
                product: Some(product(code, content)),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
    }

    /// Stores a new version of a product.
    pub async fn update_product(&self, code: &str, content: &Value) -> cfg::Product {
        self.config_admin()
            .update_product(cfg::UpdateProductRequest {
                product: Some(product(code, content)),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
    }

    /// A fresh render package (public call).
    pub async fn render(&self, code: &str) -> cfg::GetRenderPackageResponse {
        ProductServiceClient::new(Self::channel(&self.config_url))
            .get_render_package(cfg::GetRenderPackageRequest {
                product_code: code.to_string(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Submits `form` with a render package.
    pub async fn submit_with(
        &self,
        pkg: &cfg::GetRenderPackageResponse,
        form: &Value,
        key: Option<&str>,
    ) -> Result<pb::SubmitLeadResponse, tonic::Status> {
        self.public()
            .submit_lead(request(pkg, form, key))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Fetches a package and submits `form`; panics on failure.
    pub async fn submit(&self, code: &str, form: &Value) -> pb::Lead {
        let pkg = self.render(code).await;
        self.submit_with(&pkg, form, None)
            .await
            .unwrap()
            .lead
            .unwrap()
    }

    /// The lead `id` (or lead_uid) as `who` reads it; panics when it cannot.
    pub async fn read_lead(&self, who: &Session, id: &str) -> pb::Lead {
        self.lead_as(who)
            .get_lead(pb::GetLeadRequest { id: id.to_string() })
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap()
    }

    /// Leads visible to the ADMIN (total only).
    pub async fn total(&self) -> i64 {
        self.lead_as(&self.admin)
            .list_leads(pb::ListLeadsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .total_size
    }

    /// Rows in a lead-service table.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.lead_db.pool)
            .await
            .unwrap()
    }
}

/// Serves config on `listener` until the returned sender fires.
async fn serve_config(
    listener: tokio::net::TcpListener,
    cfg: &lms_config::Config,
    db: Db,
    rt: &Runtime,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let routes = lms_config::build(cfg, db, rt).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let auth = rt.auth.clone();
    let limits = rt.limits.clone();
    let task = tokio::spawn(async move {
        lms_platform::server::serve(
            listener,
            routes,
            lms_config::SERVICE_NAMES,
            auth,
            &limits,
            async move {
                let _ = rx.await;
            },
        )
        .await
        .unwrap();
    });
    (tx, task)
}

/// A submission request for a package.
pub fn request(
    pkg: &cfg::GetRenderPackageResponse,
    form: &Value,
    key: Option<&str>,
) -> pb::SubmitLeadRequest {
    pb::SubmitLeadRequest {
        product_code: pkg.product_code.clone(),
        form_data: json::to_struct_opt(form),
        config_hash: pkg.config_hash.clone(),
        signature: pkg.signature.clone(),
        captcha_response: None,
        lead_channel: 0,
        idempotency_key: key.unwrap_or_default().to_string(),
    }
}

/// The reason of a status.
pub fn reason(s: &tonic::Status) -> String {
    ApiError::from_status(s).reason
}

/// The violation fields of a status.
pub fn fields(s: &tonic::Status) -> Vec<String> {
    ApiError::from_status(s)
        .violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// Asserts code and reason.
#[track_caller]
pub fn assert_err(s: &tonic::Status, code: tonic::Code, why: &str) {
    assert_eq!((s.code(), reason(s).as_str()), (code, why), "{s:?}");
}

/// The JSON of a `Struct`.
pub fn to_json(s: Option<&prost_types::Struct>) -> Value {
    json::from_struct_opt(s)
}

/// The test product: a loan form with a dictionary, e-mail and phone normalisation, and
/// rules whose scores the tests compute by hand.
pub fn loan(visits_points: i64) -> Value {
    json!({
        "name": "Home loan",
        "formSchema": {
            "type": "object",
            "additionalProperties": true,
            "properties": {
                "fullName": {"type": "string", "minLength": 1, "maxLength": 200},
                "email": {"type": "string", "format": "email"},
                "phone": {"type": "string", "format": "phone", "x-phone-region": "IN"},
                "totalVisits": {"type": "integer", "minimum": 0},
                "leadSource": {"type": "string", "x-dictionary": "sources"},
                "country": {"type": "string"},
                "notes": {"type": "string"},
                "address": {"type": "object", "properties": {"city": {"type": "string", "minLength": 2}}}
            },
            "required": ["fullName", "email"]
        },
        "dictionaries": {"sources": [
            {"value": "Google", "label": "Google"},
            {"value": "Olark Chat", "label": "Olark chat"},
            {"value": "Direct Traffic", "label": "Direct"}
        ]},
        "scoringRules": {
            "rules": [
                {"id": "src", "field": "leadSource", "operator": "EQUALS", "value": "Google",
                 "points": 20, "reason": "paid search"},
                {"id": "visits", "field": "totalVisits", "operator": "GTE", "value": 5,
                 "points": visits_points, "reason": "engaged"},
                {"id": "home", "field": "country", "operator": "IN", "value": ["India", "IN"],
                 "points": 25, "reason": "home market"},
                {"id": "test", "field": "email", "operator": "CONTAINS", "value": "@test.",
                 "points": -50, "reason": "test address"}
            ],
            "priorityBands": [
                {"minScore": 70, "priority": "URGENT"},
                {"minScore": 40, "priority": "HIGH"},
                {"minScore": 20, "priority": "MEDIUM"}
            ],
            "defaultPriority": "LOW"
        },
        "settings": {}
    })
}

/// A valid form for [`loan`]: score 20 + visits + 25.
pub fn asha() -> Value {
    json!({
        "fullName": "  Asha Rao ",
        "email": "Asha.Rao@Example.COM",
        "phone": "098765 43210",
        "totalVisits": 7,
        "leadSource": "Google",
        "country": "India"
    })
}

/// A minimal valid form with a given e-mail.
pub fn person(email: &str) -> Value {
    json!({"fullName": "Test Person", "email": email})
}

pub use lms_testkit::product_json::product;
