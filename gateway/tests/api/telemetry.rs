//! One request id from the gateway into the services' log lines, and nothing secret in
//! any log line: no query string (refresh tokens travel there), no password, no token.

use crate::helpers::{PASSWORD, Stack, call};
use lms_platform::auth::Role;
use reqwest::Method;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Every log line of this test binary, from the moment the first test asks for it.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).to_string()
}

#[tokio::test]
async fn request_ids_reach_the_services_and_secrets_stay_out_of_logs() {
    let buf = logs();
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        s.user("root", &[Role::Admin]).await;
        let id = format!("trace-{}", uuid_like());
        let res = s
            .req(Method::POST, "/uam/api/auth/login")
            .header("x-request-id", &id)
            .json(&json!({"usernameOrEmail": "root", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-request-id"], id.as_str());
        let body = crate::helpers::body_of(res).await;
        let refresh = body["data"]["refreshToken"].as_str().unwrap().to_string();
        let access = body["data"]["accessToken"].as_str().unwrap().to_string();

        let marker = format!("never-logged-{}", uuid_like());
        let (status, _) = call(s.req(
            Method::POST,
            &format!("/uam/api/auth/refresh?refreshToken={marker}"),
        ))
        .await;
        assert_eq!(status, 401);
        let (status, _) = call(s.req(
            Method::POST,
            &format!("/uam/api/auth/refresh?refreshToken={refresh}"),
        ))
        .await;
        assert_eq!(status, 200);
        // Let the servers write their "request finished" lines.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        let all = text(&buf);
        let ours: Vec<&str> = all.lines().filter(|l| l.contains(&id)).collect();
        assert!(
            ours.iter().any(|l| l.contains("path=/uam/api/auth/login")),
            "no gateway line for {id}:\n{}",
            ours.join("\n")
        );
        assert!(
            ours.iter()
                .any(|l| l.contains("path=/lms.uam.v1.AuthService/Login")),
            "no uam line for {id}:\n{}",
            ours.join("\n")
        );
        for secret in [
            marker.as_str(),
            refresh.as_str(),
            access.as_str(),
            PASSWORD,
            "refreshToken=",
        ] {
            assert!(!all.contains(secret), "a log line holds {secret:?}");
        }
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{n:x}")
}
