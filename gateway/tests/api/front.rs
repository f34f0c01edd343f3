//! What the gateway decides alone, before any service is called: body limits, content
//! types, malformed JSON, wrong types, unknown paths and methods, query checks, CORS and
//! the CSRF origin rule. The upstreams of this gateway are a closed port, so any of these
//! requests that leaked through would answer 503 instead.

use crate::helpers::{ALLOWED_ORIGIN, Bare, assert_error, call};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_json_names_line_and_column() {
    let g = Bare::spawn().await;
    let (status, body) = call(
        g.req(Method::POST, "/uam/api/auth/login")
            .header("content-type", "application/json")
            .body("{\n  \"usernameOrEmail\": \"ann\",\n  \"password\": }"),
    )
    .await;
    assert_error(status, &body, 400, "MALFORMED_JSON", &[]);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("line 3, column 15"), "{msg}");

    // Empty body on a JSON route.
    let (status, body) = call(
        g.req(Method::POST, "/lead/api/leads")
            .header("content-type", "application/json"),
    )
    .await;
    assert_error(status, &body, 400, "MALFORMED_JSON", &[]);
}

#[tokio::test]
async fn non_objects_and_wrong_types_name_the_field() {
    let g = Bare::spawn().await;
    let (status, body) = call(g.req(Method::POST, "/lead/api/leads").json(&json!([1, 2]))).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT", &["$"]);

    let (status, body) = call(g.req(Method::POST, "/lead/api/leads").json(&json!({
        "productCode": 7,
        "formData": "city=PUNE",
        "configHash": "h",
        "signature": "s",
        "leadChannel": "CARRIER_PIGEON",
        "extra": true
    })))
    .await;
    assert_error(
        status,
        &body,
        400,
        "INVALID_ARGUMENT",
        &["productCode", "formData", "leadChannel", "extra"],
    );
    assert_eq!(body["violations"].as_array().unwrap().len(), 4, "{body}");

    let (status, body) = call(
        g.req(Method::POST, "/lead/api/leads/bulk-update")
            .json(&json!({
                "leadIds": ["a", 5],
                "updates": {"status": "DONE", "score": 100}
            })),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        "INVALID_ARGUMENT",
        &["leadIds[1]", "updates.status", "updates.score"],
    );

    let (status, body) = call(g.req(Method::POST, "/config/api/products").json(&json!({
        "productCode": "P1",
        "scoringRules": {"rules": [{"id": "r1", "field": "city", "operator": "SOUNDS_LIKE",
            "value": "x", "points": 1, "reason": ""}]}
    })))
    .await;
    assert_error(
        status,
        &body,
        400,
        "INVALID_ARGUMENT",
        &["scoringRules.rules[0].operator"],
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_streamed() {
    let g = Bare::spawn().await;
    let big = format!("{{\"formData\": {{\"x\": \"{}\"}}}}", "a".repeat(70 * 1024));
    let (status, body) = call(
        g.req(Method::POST, "/lead/api/leads")
            .header("content-type", "application/json")
            .body(big.clone()),
    )
    .await;
    assert_error(status, &body, 413, "PAYLOAD_TOO_LARGE", &[]);

    // Without a Content-Length (chunked): the limit holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = futures::stream::iter(chunks);
    let (status, body) = call(
        g.req(Method::POST, "/lead/api/leads")
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream)),
    )
    .await;
    assert_error(status, &body, 413, "PAYLOAD_TOO_LARGE", &[]);
}

#[tokio::test]
async fn json_routes_refuse_other_content_types_with_415() {
    let g = Bare::spawn().await;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, body) = call(
            g.req(Method::POST, "/uam/api/auth/login")
                .header("content-type", ct)
                .body("{\"usernameOrEmail\":\"a\",\"password\":\"b\"}"),
        )
        .await;
        assert_error(status, &body, 415, "UNSUPPORTED_MEDIA_TYPE", &[]);
    }
    // No content type at all, with a body.
    let (status, body) = call(g.req(Method::PUT, "/lead/api/leads/x").body("{}")).await;
    assert_error(status, &body, 415, "UNSUPPORTED_MEDIA_TYPE", &[]);
    // A refresh by query string needs no body, but a text/plain one is still refused.
    let (status, body) = call(
        g.req(Method::POST, "/uam/api/auth/refresh?refreshToken=abc")
            .header("content-type", "text/plain")
            .body("x"),
    )
    .await;
    assert_error(status, &body, 415, "UNSUPPORTED_MEDIA_TYPE", &[]);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let g = Bare::spawn().await;
    let (status, body) = call(g.req(Method::GET, "/lead/api/nope")).await;
    assert_error(status, &body, 404, "ROUTE_NOT_FOUND", &[]);
    let (status, body) = call(g.req(Method::DELETE, "/lead/api/leads/abc")).await;
    assert_error(status, &body, 405, "METHOD_NOT_ALLOWED", &[]);
    let (status, body) = call(g.req(Method::GET, "/uam/api/auth/login")).await;
    assert_error(status, &body, 405, "METHOD_NOT_ALLOWED", &[]);
}

#[tokio::test]
async fn list_parameters_are_checked_before_any_call() {
    let g = Bare::spawn().await;
    let cases = [
        ("size=101", "size"),
        ("size=0", "size"),
        ("size=ten", "size"),
        ("page=-1", "page"),
        ("sort=formData,asc", "sort"),
        ("sort=score,sideways", "sort"),
        ("status=OPEN", "status"),
        ("leadChannel=FAX", "leadChannel"),
        ("priority=low", "priority"),
        ("createdFrom=yesterday", "createdFrom"),
        ("createdFrom=2026-02-01&createdTo=2026-01-01", "createdTo"),
        ("stauts=NEW", "stauts"),
    ];
    for (query, field) in cases {
        let (status, body) = call(g.req(Method::GET, &format!("/lead/api/leads?{query}"))).await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &[field]);
    }
    // Valid parameters get past the gateway and reach the (closed) upstream.
    let (status, body) = call(g.req(
        Method::GET,
        "/lead/api/leads?page=2&size=100&sort=score,desc&status=NEW,QUALIFIED&createdFrom=2026-01-01",
    ))
    .await;
    assert_error(status, &body, 503, "UNAVAILABLE", &[]);
}

#[tokio::test]
async fn request_ids_are_echoed_and_reported() {
    let g = Bare::spawn().await;
    let res = g
        .req(Method::GET, "/nowhere")
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-abc-123");
    let body = crate::helpers::body_of(res).await;
    assert_eq!(body["requestId"], "req-abc-123");
    // A generated one otherwise, the same in header and body.
    let res = g.req(Method::GET, "/nowhere").send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = crate::helpers::body_of(res).await;
    assert_eq!(body["requestId"], id.as_str());
}

#[tokio::test]
async fn cors_echoes_only_allowlisted_origins() {
    let g = Bare::spawn().await;
    let preflight = |origin: &str| {
        g.req(Method::OPTIONS, "/lead/api/leads")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
    };
    let res = preflight(ALLOWED_ORIGIN).send().await.unwrap();
    assert!(res.status().is_success());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert!(h.get("access-control-allow-credentials").is_none());
    let vary: Vec<String> = h
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .collect();
    assert!(vary.iter().any(|v| v.contains("origin")), "{vary:?}");

    for bad in [
        "https://evil.example",
        "null",
        "https://APP.example.com",
        "https://app.example.com/",
        "http://app.example.com",
    ] {
        let res = preflight(bad).send().await.unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{bad} got an allow-origin"
        );
    }
    // A simple GET from an allowed origin gets the header, never `*`.
    let res = g
        .req(Method::GET, "/openapi.json")
        .header("origin", ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let g = Bare::spawn().await;
    // The CSRF shapes of security.md case 21: a simple text/plain POST and a body-less
    // refresh, both from a foreign origin.
    let (status, body) = call(
        g.req(Method::POST, "/lead/api/leads/bulk-update")
            .header("origin", "https://evil.example")
            .header("content-type", "text/plain")
            .body("{\"leadIds\":[\"a\"],\"updates\":{\"status\":\"CLOSED_LOST\"}}"),
    )
    .await;
    assert_error(status, &body, 403, "ORIGIN_NOT_ALLOWED", &[]);
    let (status, body) = call(
        g.req(Method::POST, "/uam/api/auth/refresh?refreshToken=stolen")
            .header("origin", "null")
            .header("cookie", "session=1"),
    )
    .await;
    assert_error(status, &body, 403, "ORIGIN_NOT_ALLOWED", &[]);
    // The same origin as the gateway itself is fine (and reaches the closed upstream).
    let own = format!("http://{}", g.addr);
    let (status, body) = call(
        g.req(Method::POST, "/uam/api/auth/refresh?refreshToken=t")
            .header("origin", own),
    )
    .await;
    assert_error(status, &body, 503, "UNAVAILABLE", &[]);
    // And an allowlisted one too.
    let (status, _) = call(
        g.req(Method::POST, "/uam/api/auth/refresh?refreshToken=t")
            .header("origin", ALLOWED_ORIGIN),
    )
    .await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn health_is_503_when_the_services_are_down() {
    let g = Bare::spawn().await;
    let (status, body) = call(g.req(Method::GET, "/healthz")).await;
    assert_error(status, &body, 503, "UPSTREAM_UNAVAILABLE", &[]);
    assert_eq!(body["services"]["lead"], "UNREACHABLE");
}
