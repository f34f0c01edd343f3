//! Operators use grpcurl: every port (each service and the gateway) lists its services
//! through reflection, answers health checks, and every RPC can be called.

use crate::support::System;
use lms_testkit::Backend;
use std::net::SocketAddr;
use std::process::Command;

fn grpcurl(args: &[&str]) -> (bool, String) {
    let out = Command::new("grpcurl")
        .args(args)
        .output()
        .expect("grpcurl is installed (scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn list(addr: SocketAddr, service: Option<&str>) -> Vec<String> {
    let a = addr.to_string();
    let mut args = vec!["-plaintext", a.as_str(), "list"];
    if let Some(s) = service {
        args.push(s);
    }
    let (ok, text) = grpcurl(&args);
    assert!(ok, "grpcurl list on {addr}: {text}");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_port_lists_and_calls_every_rpc() {
    let sys = System::start(Backend::Sqlite).await;
    let token = sys.admin_token().await;
    let owners = [
        (
            "uam",
            vec!["lms.uam.v1.AuthService", "lms.uam.v1.UserService"],
        ),
        (
            "config",
            vec![
                "lms.config.v1.ProductService",
                "lms.config.v1.DocumentService",
            ],
        ),
        ("lead", vec!["lms.lead.v1.LeadService"]),
        ("notify", vec!["lms.notify.v1.NotifyService"]),
        (
            "report",
            vec![
                "lms.report.v1.AnalyticsService",
                "lms.report.v1.ReportService",
            ],
        ),
    ];
    let auth = format!("authorization: Bearer {token}");
    for (svc, names) in &owners {
        let addr = sys.services[*svc];
        let listed = list(addr, None);
        for name in names {
            assert!(
                listed.contains(&name.to_string()),
                "{svc} lists {name}: {listed:?}"
            );
            assert!(
                list(sys.gateway, None).contains(&name.to_string()),
                "gateway lists {name}"
            );
        }
        let a = addr.to_string();
        let (ok, text) = grpcurl(&["-plaintext", &a, "grpc.health.v1.Health/Check"]);
        assert!(ok && text.contains("SERVING"), "{svc} health: {text}");
        for name in names {
            for method in list(addr, Some(name)) {
                for target in [addr, sys.gateway] {
                    let t = target.to_string();
                    let body = if method.ends_with("StreamEvents") {
                        r#"{"noFollow": true}"#
                    } else if method.ends_with(".Logout") {
                        // Empty, it would end every session of the admin, and with them
                        // the token the rest of the test uses.
                        r#"{"refreshToken": "not-a-refresh-token"}"#
                    } else {
                        "{}"
                    };
                    let (_, text) = grpcurl(&[
                        "-plaintext",
                        "-max-time",
                        "10",
                        "-H",
                        &auth,
                        "-d",
                        body,
                        &t,
                        &method,
                    ]);
                    // A real answer: a JSON message or a gRPC status, never a transport failure.
                    let answered = text.trim_start().starts_with('{')
                        || text.contains("Code: ")
                        || text.trim().is_empty();
                    assert!(answered, "{method} on {target}: {text}");
                    assert!(
                        !text.contains("Code: Unavailable"),
                        "{method} on {target}: {text}"
                    );
                    assert!(
                        !text.contains("Failed to dial"),
                        "{method} on {target}: {text}"
                    );
                }
            }
        }
    }
    // An authenticated call through the gateway reaches uam as the admin.
    let g = sys.gateway.to_string();
    let (ok, text) = grpcurl(&[
        "-plaintext",
        "-H",
        &auth,
        &g,
        "lms.uam.v1.UserService/GetCurrentUser",
    ]);
    assert!(ok && text.contains("\"username\": \"admin\""), "{text}");
    let (ok, text) = grpcurl(&["-plaintext", &g, "lms.uam.v1.UserService/GetCurrentUser"]);
    assert!(!ok && text.contains("Unauthenticated"), "{text}");
}
