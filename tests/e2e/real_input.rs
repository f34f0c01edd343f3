//! The main job on real input: all 9,240 rows of `leads-xeducation.csv` submitted through
//! the public API (a fresh render package per submission), then counted, scored and
//! worked through the REST API, on SQLite and on PostgreSQL.

use crate::support::System;
use futures::StreamExt;
use lms_testkit::Backend;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

const CSV_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/leads-xeducation.csv"
);
const NUMERIC: &[&str] = &[
    "Lead Number",
    "Converted",
    "TotalVisits",
    "Total Time Spent on Website",
    "Page Views Per Visit",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
];

/// "Total Time Spent on Website" -> "totalTimeSpentOnWebsite", "Prospect ID" -> "prospectId".
fn camel(header: &str) -> String {
    let mut out = String::new();
    for (i, word) in header.split_whitespace().enumerate() {
        let mut chars = word.chars();
        let Some(first) = chars.next() else { continue };
        if i == 0 {
            out.extend(first.to_lowercase());
            out.push_str(chars.as_str());
        } else {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
}

/// The file as (camelCase header, formData) rows; blank cells are left out.
/// A column: its camelCase key and whether it holds numbers.
type Column = (String, bool);

fn read_rows() -> (Vec<Column>, Vec<Map<String, Value>>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(CSV_PATH)
        .expect("open csv");
    let headers: Vec<Column> = reader
        .headers()
        .expect("headers")
        .iter()
        .filter(|h| !h.trim().is_empty())
        .map(|h| (camel(h), NUMERIC.contains(&h)))
        .collect();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.expect("row");
        let mut form = Map::new();
        for (i, (key, numeric)) in headers.iter().enumerate() {
            let cell = rec.get(i).unwrap_or("").trim();
            if cell.is_empty() {
                continue;
            }
            let v = if *numeric {
                let n: f64 = cell.parse().expect("numeric cell");
                if n.fract() == 0.0 {
                    json!(n as i64)
                } else {
                    json!(n)
                }
            } else {
                json!(cell)
            };
            form.insert(key.clone(), v);
        }
        rows.push(form);
    }
    (headers, rows)
}

fn form_schema(headers: &[Column]) -> Value {
    let mut props = Map::new();
    for (key, numeric) in headers {
        let p = if *numeric {
            json!({"type": "number", "minimum": 0})
        } else {
            json!({"type": "string", "maxLength": 200})
        };
        props.insert(key.clone(), p);
    }
    json!({
        "type": "object",
        "properties": props,
        "required": ["prospectId", "leadOrigin"],
        "additionalProperties": false
    })
}

fn scoring_rules() -> Value {
    json!({
        "rules": [
            {"id": "origin", "field": "leadOrigin", "operator": "IN", "value": ["Lead Add Form", "lead import"], "points": 30, "reason": "strong origin"},
            {"id": "google", "field": "leadSource", "operator": "EQUALS", "value": "google", "points": 5, "reason": "search"},
            {"id": "time-high", "field": "totalTimeSpentOnWebsite", "operator": "GTE", "value": 1000, "points": 20, "reason": "engaged"},
            {"id": "time-mid", "field": "totalTimeSpentOnWebsite", "operator": "BETWEEN", "value": [500, 999], "points": 10, "reason": "some engagement"},
            {"id": "visits", "field": "totalVisits", "operator": "GT", "value": 5, "points": 5, "reason": "returning"},
            {"id": "sms", "field": "lastActivity", "operator": "IN", "value": ["SMS Sent"], "points": 15, "reason": "sms"},
            {"id": "olark", "field": "lastActivity", "operator": "EQUALS", "value": "Olark Chat Conversation", "points": -10, "reason": "chat only"},
            {"id": "pro", "field": "whatIsYourCurrentOccupation", "operator": "EQUALS", "value": "Working Professional", "points": 20, "reason": "can pay"},
            {"id": "no-email", "field": "doNotEmail", "operator": "EQUALS", "value": "yes", "points": -10, "reason": "unreachable"},
            {"id": "revert", "field": "tags", "operator": "CONTAINS", "value": "will revert", "points": 25, "reason": "promised"},
            {"id": "ringing", "field": "tags", "operator": "MATCHES", "value": "^(Ringing|Busy)$", "points": -5, "reason": "not reached"},
            {"id": "specialised", "field": "specialization", "operator": "NOT_IN", "value": ["Select"], "points": 3, "reason": "chose a specialization"},
            {"id": "notable", "field": "lastNotableActivity", "operator": "EXISTS", "value": null, "points": 1, "reason": "active"},
            {"id": "shallow", "field": "pageViewsPerVisit", "operator": "LTE", "value": 1, "points": -3, "reason": "shallow visits"},
            {"id": "quality", "field": "leadQuality", "operator": "NOT_EQUALS", "value": "worst", "points": 4, "reason": "not the worst"},
            {"id": "low-activity", "field": "asymmetriqueActivityScore", "operator": "LT", "value": "14", "points": -5, "reason": "low activity index"}
        ],
        "priorityBands": [
            {"minScore": 0, "priority": "LOW"},
            {"minScore": 25, "priority": "MEDIUM"},
            {"minScore": 50, "priority": "HIGH"},
            {"minScore": 75, "priority": "URGENT"}
        ],
        "defaultPriority": "LOW"
    })
}

/// The same rules, written out by hand, independent of the product's engine.
fn expected_score(f: &Map<String, Value>) -> (i64, &'static str) {
    let s = |k: &str| {
        f.get(k)
            .and_then(Value::as_str)
            .map(|v| v.trim().to_lowercase())
    };
    let n = |k: &str| f.get(k).and_then(Value::as_f64);
    let mut score = 0i64;
    if matches!(
        s("leadOrigin").as_deref(),
        Some("lead add form" | "lead import")
    ) {
        score += 30;
    }
    if s("leadSource").as_deref() == Some("google") {
        score += 5;
    }
    if let Some(t) = n("totalTimeSpentOnWebsite") {
        if t >= 1000.0 {
            score += 20;
        }
        if (500.0..=999.0).contains(&t) {
            score += 10;
        }
    }
    if n("totalVisits").is_some_and(|v| v > 5.0) {
        score += 5;
    }
    match s("lastActivity").as_deref() {
        Some("sms sent") => score += 15,
        Some("olark chat conversation") => score -= 10,
        _ => {}
    }
    if s("whatIsYourCurrentOccupation").as_deref() == Some("working professional") {
        score += 20;
    }
    if s("doNotEmail").as_deref() == Some("yes") {
        score -= 10;
    }
    if s("tags").is_some_and(|t| t.contains("will revert")) {
        score += 25;
    }
    if f.get("tags")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "Ringing" || t == "Busy")
    {
        score -= 5;
    }
    if s("specialization").is_some_and(|v| !v.is_empty() && v != "select") {
        score += 3;
    }
    if s("lastNotableActivity").is_some_and(|v| !v.is_empty()) {
        score += 1;
    }
    if n("pageViewsPerVisit").is_some_and(|v| v <= 1.0) {
        score -= 3;
    }
    if s("leadQuality").is_some_and(|v| !v.is_empty() && v != "worst") {
        score += 4;
    }
    if n("asymmetriqueActivityScore").is_some_and(|v| v < 14.0) {
        score -= 5;
    }
    let score = score.clamp(0, 100);
    let priority = match score {
        75.. => "URGENT",
        50.. => "HIGH",
        25.. => "MEDIUM",
        _ => "LOW",
    };
    (score, priority)
}

fn counts<'a>(
    rows: impl Iterator<Item = &'a Map<String, Value>>,
    key: &str,
) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        let v = r.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        *m.entry(v.unwrap_or_else(|| "<absent>".into())).or_insert(0) += 1;
    }
    m
}

async fn run(backend: Backend) {
    let sys = System::start(backend).await;
    let token = sys.admin_token().await;
    let (headers, rows) = read_rows();
    assert_eq!(rows.len(), 9240, "the file has 9,240 leads");

    let (status, product) = sys
        .post(
            "/config/api/products",
            Some(&token),
            &json!({
                "productCode": "XEDU",
                "name": "X Education enquiry",
                "formSchema": form_schema(&headers),
                "scoringRules": scoring_rules(),
            }),
        )
        .await;
    assert_eq!(status, 201, "create product: {product}");

    // Submit every row with its own render package, a few at a time.
    let results: Vec<(String, u16, Value)> = futures::stream::iter(rows.iter().cloned())
        .map(|form| {
            let sys = &sys;
            async move {
                let (st, pkg) = sys
                    .get("/config/api/products/XEDU/lead-form/render-package", None)
                    .await;
                assert_eq!(st, 200, "render package: {pkg}");
                assert!(
                    pkg.get("scoringRules").is_none(),
                    "render package leaks scoring rules"
                );
                let pid = form["prospectId"].as_str().unwrap_or_default().to_string();
                let (st, lead) = sys
                    .post(
                        "/lead/api/leads",
                        None,
                        &json!({
                            "productCode": "XEDU",
                            "formData": form,
                            "configHash": pkg["configHash"],
                            "signature": pkg["signature"],
                        }),
                    )
                    .await;
                (pid, st, lead)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let failed: Vec<_> = results
        .iter()
        .filter(|(_, st, _)| *st != 201)
        .take(3)
        .collect();
    assert!(failed.is_empty(), "submissions failed: {failed:?}");

    // Read every lead back through the paged list.
    let mut listed: Vec<Value> = Vec::new();
    let mut page = 0;
    loop {
        let (st, body) = sys
            .get(
                &format!("/lead/api/leads?page={page}&size=100&sort=createdAt,asc"),
                Some(&token),
            )
            .await;
        assert_eq!(st, 200, "list page {page}: {body}");
        assert_eq!(body["totalElements"], 9240);
        listed.extend(body["content"].as_array().cloned().unwrap_or_default());
        if body["last"] == true {
            break;
        }
        page += 1;
    }
    assert_eq!(listed.len(), 9240);
    assert_eq!(page, 92, "93 pages of 100");

    let forms: Vec<Map<String, Value>> = listed
        .iter()
        .map(|l| l["formData"].as_object().cloned().unwrap_or_default())
        .collect();
    for field in ["leadSource", "leadOrigin", "lastActivity", "city"] {
        assert_eq!(
            counts(forms.iter(), field),
            counts(rows.iter(), field),
            "counts of {field}"
        );
    }

    // Every score and priority as the rules give them, computed independently.
    let by_pid: HashMap<&str, &Map<String, Value>> = rows
        .iter()
        .map(|r| (r["prospectId"].as_str().unwrap_or_default(), r))
        .collect();
    let mut mismatches = Vec::new();
    for lead in &listed {
        let pid = lead["formData"]["prospectId"].as_str().unwrap_or_default();
        let row = by_pid.get(pid).expect("lead matches a row");
        let (score, priority) = expected_score(row);
        if lead["score"] != json!(score) || lead["priority"] != json!(priority) {
            mismatches.push((
                pid.to_string(),
                lead["score"].clone(),
                score,
                lead["scoreBreakdown"].clone(),
            ));
        }
        assert_eq!(lead["status"], "NEW");
        assert_eq!(lead["productCode"], "XEDU");
        assert_eq!(lead["leadChannel"], "FORM");
        assert!(
            lead["leadUid"]
                .as_str()
                .is_some_and(|u| u.starts_with("L-"))
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} score mismatches, first: {:?}",
        mismatches.len(),
        mismatches.first()
    );

    // Work 500 of them in one bulk update, then read one's history.
    let ids: Vec<Value> = listed.iter().take(500).map(|l| l["id"].clone()).collect();
    let (st, bulk) = sys
        .post(
            "/lead/api/leads/bulk-update",
            Some(&token),
            &json!({"leadIds": ids, "updates": {"status": "IN_PROGRESS", "leadComment": "called back"}}),
        )
        .await;
    assert_eq!(st, 200, "bulk: {bulk}");
    assert_eq!(bulk["totalRequested"], 500);
    assert_eq!(bulk["totalUpdated"], 500);
    assert_eq!(bulk["totalFailed"], 0);
    let one = ids[123].as_str().expect("id");
    let (st, lead) = sys
        .get(&format!("/lead/api/leads/{one}"), Some(&token))
        .await;
    assert_eq!(st, 200);
    assert_eq!(lead["status"], "IN_PROGRESS");
    assert_eq!(lead["leadComment"], "called back");
    let (st, history) = sys
        .get(&format!("/lead/api/leads/{one}/history"), Some(&token))
        .await;
    assert_eq!(st, 200, "history: {history}");
    let entries = history.as_array().expect("history array");
    assert!(entries.len() >= 2, "created + updated: {history}");
    let last = entries.last().expect("entry");
    let changes = last["changes"].as_array().expect("changes");
    assert!(
        changes.iter().any(|c| c["field"] == "status"
            && c["oldValue"] == "NEW"
            && c["newValue"] == "IN_PROGRESS"),
        "status change in history: {last}"
    );
    assert!(last["actor"].as_str().is_some_and(|a| !a.is_empty()));
    let (st, in_progress) = sys
        .get("/lead/api/leads?status=IN_PROGRESS&size=1", Some(&token))
        .await;
    assert_eq!(st, 200);
    assert_eq!(in_progress["totalElements"], 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_rows_sqlite() {
    if lms_testkit::backends().contains(&Backend::Sqlite) {
        run(Backend::Sqlite).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_rows_postgres() {
    if lms_testkit::backends().contains(&Backend::Postgres) {
        run(Backend::Postgres).await;
    }
}
