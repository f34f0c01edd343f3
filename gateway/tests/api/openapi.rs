//! The OpenAPI document and the router agree: every served route is documented and every
//! documented operation is served; the document is valid JSON whose references resolve.

use crate::helpers::{Bare, call};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

fn document() -> Value {
    serde_json::from_str(lms_gateway::OPENAPI_JSON).unwrap()
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_route_is_documented_and_every_operation_served() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
            assert!(
                op["responses"].is_object(),
                "{method} {path} has no responses"
            );
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
        }
    }
    let served: BTreeSet<(String, String)> = lms_gateway::rest_routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

#[test]
fn references_resolve_and_errors_use_the_error_schema() {
    let doc = document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
    let error = &doc["components"]["schemas"]["Error"];
    for field in ["status", "reason", "message", "violations", "requestId"] {
        assert!(
            error["properties"][field].is_object(),
            "Error lacks {field}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let lead = doc["components"]["schemas"]["Lead"]["properties"]
        .as_object()
        .unwrap();
    assert!(lead.contains_key("formData") && !lead.contains_key("formSchema"));
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.contains("misnomer"));
}

#[tokio::test]
async fn the_document_is_served_and_every_route_answers_its_method() {
    let g = Bare::spawn().await;
    let (status, body) = call(g.req(Method::GET, "/openapi.json")).await;
    assert_eq!(status, 200);
    assert_eq!(body, document());
    // Every route is routed (no 404/405 from the router), whatever the answer.
    for (method, path) in lms_gateway::rest_routes() {
        let path = path.replace("{id}", "x1").replace("{productCode}", "P1");
        let (status, body) = call(
            g.req(method.clone(), &path)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
        let reason = body["reason"].as_str().unwrap_or_default();
        assert!(
            reason != "ROUTE_NOT_FOUND" && reason != "METHOD_NOT_ALLOWED" && status != 404,
            "{method} {path}: {status} {body}"
        );
    }
}
