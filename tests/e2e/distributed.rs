//! The distributed mode: one `lms serve --only <part>` process per part against one
//! PostgreSQL database (a schema each), keys from files as Kubernetes Secrets would
//! provide them, peers from configuration. Dev keys are refused outside the embedded mode.

use crate::support::{ADMIN_PASSWORD, bin};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use lms_testkit::{Backend, TestDb};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn lms(config: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_per_part_on_postgres() {
    if !lms_testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await.expect("database");
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let signing = ed25519_dalek::SigningKey::from_bytes(&rand_bytes());
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("pem");
    std::fs::write(d.join("uam.pem"), pem.as_bytes()).expect("write");
    let hex: String = rand_bytes().iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(d.join("form.key"), hex).expect("write");
    std::fs::write(d.join("mesh.key"), "distributed-test-mesh-key-0123456789").expect("write");

    let parts = ["uam", "config", "lead", "notify", "report", "gateway"];
    let ports: Vec<u16> = parts.iter().map(|_| free_port()).collect();
    let addr = |i: usize| format!("127.0.0.1:{}", ports[i]);
    let mut toml = format!(
        "data_dir = {data:?}\n[database]\nurl = {url:?}\n[mesh]\nkey_file = {mesh:?}\n[mesh.peers]\n",
        data = d.join("data").display().to_string(),
        url = db.url,
        mesh = d.join("mesh.key").display().to_string(),
    );
    for (i, p) in parts.iter().enumerate().take(5) {
        toml.push_str(&format!("{p} = \"http://{}\"\n", addr(i)));
    }
    for (i, p) in parts.iter().enumerate() {
        toml.push_str(&format!("[{p}]\naddr = {:?}\n", addr(i)));
        if *p == "uam" {
            toml.push_str(&format!(
                "signing_key_file = {:?}\n",
                d.join("uam.pem").display().to_string()
            ));
        }
    }
    toml.push_str(&format!(
        "[[config.form_signing_keys]]\nkid = \"k1\"\nkey_file = {:?}\n",
        d.join("form.key").display().to_string()
    ));
    let cfg = d.join("lms.toml");
    std::fs::write(&cfg, &toml).expect("write config");

    // Without its key, uam refuses to start outside the embedded mode.
    let no_key = d.join("nokey.toml");
    std::fs::write(
        &no_key,
        toml.replace("signing_key_file", "# signing_key_file"),
    )
    .expect("write");
    let out = lms(&no_key, &["serve", "--only", "uam"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("SIGNING_KEY_FILE"),
        "uam must refuse to start without a signing key: {err}"
    );

    let out = lms(&cfg, &["migrate"]).output().expect("migrate");
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lms(
        &cfg,
        &[
            "admin",
            "create-user",
            "--username",
            "admin",
            "--email",
            "a@example.com",
            "--role",
            "ADMIN",
        ],
    )
    .env("LMS_ADMIN_PASSWORD", ADMIN_PASSWORD)
    .output()
    .expect("create-user");
    assert!(
        out.status.success(),
        "create-user: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut procs = Procs(Vec::new());
    for p in parts {
        let child = lms(&cfg, &["serve", "--only", p])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        procs.0.push(child);
    }
    let base = format!("http://{}", addr(5));
    let http = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..120 {
        let answer = http.get(format!("{base}/healthz")).send().await;
        if answer.is_ok_and(|r| r.status().as_u16() == 200) {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(healthy, "the distributed system never became healthy");

    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.expect("request");
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, login) = post(
        "/uam/api/auth/login",
        None,
        json!({"usernameOrEmail": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(st, 200, "{login}");
    let token = login["data"]["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let (st, product) = post(
        "/config/api/products",
        Some(&token),
        json!({"productCode": "DIST", "name": "Distributed",
               "formSchema": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
               "scoringRules": {"rules": [{"id": "e", "field": "email", "operator": "EXISTS", "points": 40}],
                                 "priorityBands": [{"minScore": 30, "priority": "HIGH"}], "defaultPriority": "LOW"}}),
    )
    .await;
    assert_eq!(st, 201, "{product}");
    let pkg: Value = http
        .get(format!(
            "{base}/config/api/products/DIST/lead-form/render-package"
        ))
        .send()
        .await
        .expect("package")
        .json()
        .await
        .expect("json");
    let (st, lead) = post(
        "/lead/api/leads",
        None,
        json!({"productCode": "DIST", "formData": {"email": " Someone@Example.COM "},
               "configHash": pkg["configHash"], "signature": pkg["signature"]}),
    )
    .await;
    assert_eq!(st, 201, "{lead}");
    assert_eq!(lead["score"], 40);
    assert_eq!(lead["priority"], "HIGH");
    assert_eq!(lead["formData"]["email"], "someone@example.com");
    // No dev key was generated anywhere in the data folder.
    assert!(
        !d.join("data").join("keys").exists(),
        "dev keys generated in distributed mode"
    );
}

fn rand_bytes() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}
