//! Native gRPC and grpc-web on the gateway port: the proxy to every service (unary and
//! server streaming, error details intact, the mesh key never passed through), the
//! gateway's own health and reflection (v1 and v1alpha; and the real grpcurl when it is
//! installed), and grpc-web translation with CORS.

use crate::helpers::{ALLOWED_ORIGIN, PASSWORD, Stack, call, product_body};
use lms_platform::ApiError;
use lms_platform::auth::Role;
use lms_proto::config::v1 as config_pb;
use lms_proto::lead::v1 as lead_pb;
use lms_proto::uam::v1 as uam_pb;
use prost::Message;
use reqwest::Method;
use serde_json::json;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

async fn channel(s: &Stack) -> Channel {
    tonic::transport::Endpoint::from_shared(s.base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    r
}

#[tokio::test]
async fn native_grpc_is_proxied_to_every_service() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        s.user("root", &[Role::Admin]).await;
        let ch = channel(&s).await;

        // uam: Login through the gateway.
        let res = uam_pb::auth_service_client::AuthServiceClient::new(ch.clone())
            .login(uam_pb::LoginRequest {
                username_or_email: "root".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner();
        let Some(uam_pb::login_response::Result::Tokens(tokens)) = res.result else {
            panic!("expected tokens");
        };
        let admin = tokens.access_token;

        // config: create a product with the caller's token; errors keep reason and fields.
        let mut products = config_pb::product_service_client::ProductServiceClient::new(ch.clone());
        let (_, status_body) = call(
            s.authed(Method::POST, "/config/api/products", &admin)
                .json(&product_body("LOAN_1")),
        )
        .await;
        assert_eq!(status_body["productCode"], "LOAN_1");
        let err = products
            .get_render_package(config_pb::GetRenderPackageRequest {
                product_code: "NOPE".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        assert!(ApiError::from_status(&err).reason.ends_with("NOT_FOUND"));
        let pkg = products
            .get_render_package(config_pb::GetRenderPackageRequest {
                product_code: "LOAN_1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(pkg.version, 1);

        // The mesh key is stripped: through the gateway a service-only method is refused,
        // even with the right key; straight to config the same call is let in.
        let mut req = tonic::Request::new(config_pb::VerifyFormTokenRequest {
            signature: pkg.signature.clone(),
        });
        req.metadata_mut().insert(
            lms_platform::auth::SERVICE_KEY_HEADER,
            MetadataValue::from_static(lms_testkit::TEST_MESH_KEY),
        );
        let err = products.verify_form_token(req).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        let direct = lms_platform::grpc_client::lazy_channel(&s.urls.config).unwrap();
        let mut req = tonic::Request::new(config_pb::VerifyFormTokenRequest {
            signature: pkg.signature.clone(),
        });
        req.metadata_mut().insert(
            lms_platform::auth::SERVICE_KEY_HEADER,
            MetadataValue::from_static(lms_testkit::TEST_MESH_KEY),
        );
        let verified = config_pb::product_service_client::ProductServiceClient::new(direct)
            .verify_form_token(req)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(verified.product_code, "LOAN_1");

        // lead: a server stream through the gateway, after a REST submission.
        let (status, lead) = s.submit("LOAN_1", json!({"city": "PUNE"})).await;
        assert_eq!(status, 201, "{lead}");
        let mut leads = lead_pb::lead_service_client::LeadServiceClient::new(ch.clone());
        let mut stream = leads
            .stream_events(with_token(
                lead_pb::StreamEventsRequest {
                    after_position: 0,
                    event_types: vec![],
                    no_follow: false,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        // A following stream: the event arrives once the lead's sequencer has placed it.
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message());
        let first = match next.await {
            Ok(Ok(Some(m))) => m.event.unwrap(),
            other => panic!("no event: {other:?}"),
        };
        assert_eq!(first.event_type, "LeadCreated");
        assert_eq!(first.lead_id, lead["id"].as_str().unwrap());

        // notify and report answer through the gateway too (their own status).
        let err = lms_proto::report::v1::analytics_service_client::AnalyticsServiceClient::new(
            ch.clone(),
        )
        .get_dashboard_stats(lms_proto::report::v1::GetDashboardStatsRequest::default())
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        let err =
            lms_proto::notify::v1::notify_service_client::NotifyServiceClient::new(ch.clone())
                .list_notifications(with_token(Default::default(), &admin))
                .await
                .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{err:?}");

        // A package the gateway does not know.
        let mut grpc = tonic::client::Grpc::new(ch.clone());
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static("/evil.v1.Shell/Run");
        let err = grpc
            .unary::<_, uam_pb::LoginResponse, _>(
                tonic::Request::new(uam_pb::LoginRequest::default()),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);

        // /healthz sees every service serving.
        let (status, body) = call(s.req(Method::GET, "/healthz")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ok");
        for svc in ["uam", "config", "lead", "notify", "report"] {
            assert_eq!(body["services"][svc], "SERVING", "{body}");
        }
    }
}

/// Every service of the LMS protos plus health, as fully qualified names.
fn expected_services() -> Vec<String> {
    let fds = prost_types::FileDescriptorSet::decode(lms_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut names: Vec<String> = fds
        .file
        .iter()
        .flat_map(|f| {
            let pkg = f.package().to_string();
            f.service.iter().map(move |s| format!("{pkg}.{}", s.name()))
        })
        .collect();
    names.push("grpc.health.v1.Health".to_string());
    names.sort();
    names
}

#[tokio::test]
async fn health_and_reflection_v1_and_v1alpha_list_every_service() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::{v1, v1alpha};
    let s = Stack::spawn(lms_testkit::Backend::Sqlite).await;
    let ch = channel(&s).await;
    let health = HealthClient::new(ch.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    let want = expected_services();
    assert!(want.len() >= 8, "{want:?}");

    let req = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = v1::server_reflection_client::ServerReflectionClient::new(ch.clone())
        .server_reflection_info(tokio_stream::once(req))
        .await
        .unwrap()
        .into_inner();
    let res = stream.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        res.message_response
    else {
        panic!("expected a service list");
    };
    let got: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for name in &want {
        assert!(got.contains(name), "v1 reflection lacks {name}: {got:?}");
    }

    let req = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "lms.lead.v1.LeadService".into(),
            ),
        ),
    };
    let mut stream = v1alpha::server_reflection_client::ServerReflectionClient::new(ch)
        .server_reflection_info(tokio_stream::once(req))
        .await
        .unwrap()
        .into_inner();
    let res = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(
            res.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()
        ),
        "{res:?}"
    );
}

/// The real grpcurl, when installed (`../shared/tools/get-grpcurl.sh`).
fn grpcurl() -> Option<std::path::PathBuf> {
    let home =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/bin/grpcurl"));
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("grpcurl"))
            .find(|f| f.is_file())
    });
    on_path.or(home.filter(|h| h.is_file()))
}

#[tokio::test]
async fn grpcurl_lists_and_calls_through_the_gateway() {
    // scripts/test installs it; a missing grpcurl is a failure, not a skip.
    let bin = grpcurl().expect("grpcurl is not installed: run ../shared/tools/get-grpcurl.sh");
    let s = Stack::spawn(lms_testkit::Backend::Sqlite).await;
    let (_, admin) = s.signed_in("root", &[Role::Admin]).await;
    s.product(&admin, "LOAN_1").await;
    let addr = s.addr.to_string();
    let run = |args: Vec<String>| {
        let bin = bin.clone();
        tokio::task::spawn_blocking(move || std::process::Command::new(bin).args(args).output())
    };
    let out = run(vec!["-plaintext".into(), addr.clone(), "list".into()])
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    for name in expected_services() {
        assert!(
            listed.lines().any(|l| l.trim() == name),
            "grpcurl list lacks {name}:\n{listed}"
        );
    }
    let out = run(vec![
        "-plaintext".into(),
        "-d".into(),
        r#"{"productCode": "LOAN_1"}"#.into(),
        addr.clone(),
        "lms.config.v1.ProductService/GetRenderPackage".into(),
    ])
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["productCode"], "LOAN_1");
    assert!(
        answer["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("v1."))
    );
    let out = run(vec![
        "-plaintext".into(),
        "-H".into(),
        format!("authorization: Bearer {admin}"),
        addr,
        "lms.uam.v1.UserService/GetCurrentUser".into(),
    ])
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["user"]["username"], "root");
}

/// One grpc-web frame: flag, big-endian length, payload.
fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a grpc-web response body into (data frames, trailer text).
fn frames(body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut data, mut trailers, mut rest) = (Vec::new(), String::new(), body);
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let payload = rest[5..5 + len].to_vec();
        if rest[0] & 0x80 != 0 {
            trailers.push_str(&String::from_utf8_lossy(&payload));
        } else {
            data.push(payload);
        }
        rest = &rest[5 + len..];
    }
    (data, trailers)
}

#[tokio::test]
async fn grpc_web_is_translated_with_cors() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        let (_, admin) = s.signed_in("root", &[Role::Admin]).await;
        s.product(&admin, "LOAN_1").await;
        let path = "/lms.config.v1.ProductService/GetRenderPackage";
        let msg = config_pb::GetRenderPackageRequest {
            product_code: "LOAN_1".into(),
        }
        .encode_to_vec();
        let res = s
            .req(Method::POST, path)
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("origin", ALLOWED_ORIGIN)
            .body(frame(0, &msg))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/grpc-web")
        );
        let (data, trailers) = frames(&res.bytes().await.unwrap());
        assert!(trailers.contains("grpc-status:0"), "{trailers}");
        let pkg = config_pb::GetRenderPackageResponse::decode(data[0].as_slice()).unwrap();
        assert_eq!(pkg.product_code, "LOAN_1");

        // An error travels in the trailers, with the reason details.
        let msg = config_pb::GetRenderPackageRequest {
            product_code: "NOPE".into(),
        }
        .encode_to_vec();
        let res = s
            .req(Method::POST, path)
            .header("content-type", "application/grpc-web+proto")
            .body(frame(0, &msg))
            .send()
            .await
            .unwrap();
        let grpc_status = res
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_string());
        let (_, trailers) = frames(&res.bytes().await.unwrap());
        assert!(
            grpc_status.as_deref() == Some("5") || trailers.contains("grpc-status:5"),
            "{grpc_status:?} {trailers}"
        );

        // Preflights: allowed origin echoed, others not; a foreign origin's call refused.
        let preflight = |origin: &str| {
            s.req(Method::OPTIONS, path)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,x-grpc-web,authorization",
                )
        };
        let res = preflight(ALLOWED_ORIGIN).send().await.unwrap();
        assert_eq!(res.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
        let allowed = res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("x-grpc-web") && allowed.contains("authorization"),
            "{allowed}"
        );
        let res = preflight("https://evil.example").send().await.unwrap();
        assert!(res.headers().get("access-control-allow-origin").is_none());
        let res = s
            .req(Method::POST, path)
            .header("content-type", "application/grpc-web+proto")
            .header("origin", "https://evil.example")
            .body(frame(0, &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
}
