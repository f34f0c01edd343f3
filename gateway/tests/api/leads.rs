//! lead through the REST front: submission (201, outcome, idempotency), the Lead JSON,
//! list filters, sort and paging, updates with the write rules, bulk updates, history.

use crate::helpers::{Stack, assert_error, call};
use lms_platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn submit_get_and_list() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        let (_, admin) = s.signed_in("root", &[Role::Admin]).await;
        // Two agents: new leads are assigned round-robin between them.
        let (alex, agent) = s.signed_in("alex", &[Role::Agent]).await;
        let (bea, _) = s.signed_in("bea", &[Role::Agent]).await;
        let product = s.product(&admin, "LOAN_1").await;

        let (status, lead) = s.submit("LOAN_1", json!({"city": "PUNE", "age": 35})).await;
        assert_eq!(status, 201, "{lead}");
        assert_eq!(lead["outcome"], "CREATED");
        let mut keys: Vec<&str> = lead
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "assignee",
                "configHash",
                "createdAt",
                "documentMetadata",
                "formData",
                "id",
                "leadChannel",
                "leadComment",
                "leadUid",
                "outcome",
                "priority",
                "productCode",
                "score",
                "scoreBreakdown",
                "scoringVersion",
                "status",
                "updatedAt",
                "version"
            ]
        );
        assert_eq!(lead["productCode"], "LOAN_1");
        assert_eq!(lead["status"], "NEW");
        assert_eq!(lead["score"], 55);
        assert_eq!(lead["priority"], "HIGH");
        assert_eq!(lead["leadChannel"], "FORM");
        assert_eq!(lead["formData"], json!({"city": "PUNE", "age": 35}));
        assert_eq!(lead["configHash"], product["configHash"]);
        assert_eq!(lead["scoringVersion"], 1);
        assert_eq!(lead["version"], 1);
        assert_eq!(lead["documentMetadata"], Value::Null);
        assert_eq!(
            lead["scoreBreakdown"],
            json!({"items": [
                {"ruleId": "r-city", "field": "city", "points": 30, "reason": "home market"},
                {"ruleId": "r-age", "field": "age", "points": 25, "reason": "settled"}
            ], "rawScore": 55})
        );
        let uid = lead["leadUid"].as_str().unwrap().to_string();
        assert!(uid.starts_with("L-") && uid.len() >= 13, "{uid}");
        let id = lead["id"].as_str().unwrap().to_string();

        // Get by id and by leadUid: the same lead, without `outcome`.
        for key in [&id, &uid] {
            let (status, got) =
                call(s.authed(Method::GET, &format!("/lead/api/leads/{key}"), &admin)).await;
            assert_eq!(status, 200, "{got}");
            assert_eq!(got["id"], id.as_str());
            assert!(got.get("outcome").is_none());
        }
        // Bad submissions get a clear error.
        let pkg = s.render("LOAN_1").await;
        let submission = |form: Value, signature: &str, channel: &str| {
            json!({"productCode": "LOAN_1", "formData": form, "configHash": pkg["configHash"],
                   "signature": signature, "leadChannel": channel})
        };
        let sig = pkg["signature"].as_str().unwrap();
        let (status, body) = call(s.req(Method::POST, "/lead/api/leads").json(&submission(
            json!({"city": "PUNE"}),
            sig,
            "FAX",
        )))
        .await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["leadChannel"]);
        let (status, body) = call(s.req(Method::POST, "/lead/api/leads").json(&submission(
            json!({"city": "PUNE", "shoeSize": 44}),
            sig,
            "FORM",
        )))
        .await;
        assert_eq!(status, 400, "{body}");
        let named: Vec<&str> = body["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["field"].as_str().unwrap())
            .collect();
        assert!(named.iter().any(|f| f.contains("shoeSize")), "{body}");
        let mut tampered = sig.to_string();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let (status, body) = call(s.req(Method::POST, "/lead/api/leads").json(&submission(
            json!({"city": "PUNE"}),
            &tampered,
            "FORM",
        )))
        .await;
        assert!(status == 400 || status == 401, "{status} {body}");
        assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()));

        // Idempotency-Key: a replay answers the first lead; another body is 422.
        let body = submission(json!({"city": "DELHI", "age": 20}), sig, "CHATBOT");
        let send = |b: &Value| {
            s.req(Method::POST, "/lead/api/leads")
                .header("Idempotency-Key", "key-0001")
                .json(b)
        };
        let (status, second) = call(send(&body)).await;
        assert_eq!(status, 201, "{second}");
        assert_eq!(second["leadChannel"], "CHATBOT");
        assert_eq!(
            (second["score"].as_i64(), second["priority"].as_str()),
            (Some(0), Some("LOW"))
        );
        let (status, replay) = call(send(&body)).await;
        assert!(status == 200 || status == 201, "{status} {replay}");
        assert_eq!(replay["id"], second["id"]);
        let mut other = body.clone();
        other["formData"]["age"] = json!(21);
        let (status, body) = call(send(&other)).await;
        assert_error(status, &body, 422, "IDEMPOTENCY_KEY_REUSED", &[]);

        let (status, third) = s
            .submit("LOAN_1", json!({"city": "DELHI", "age": 40}))
            .await;
        assert_eq!(status, 201, "{third}");
        assert_eq!(
            (third["score"].as_i64(), third["priority"].as_str()),
            (Some(25), Some("MEDIUM"))
        );
        let (second, third) = (
            second["id"].as_str().unwrap().to_string(),
            third["id"].as_str().unwrap().to_string(),
        );

        // Lists: the seed's page, newest first by default.
        let list = |q: &str| call(s.authed(Method::GET, &format!("/lead/api/leads{q}"), &admin));
        let (status, page) = list("").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["totalElements"], 3);
        assert_eq!(
            (page["size"].as_i64(), page["number"].as_i64()),
            (Some(20), Some(0))
        );
        assert_eq!(ids(&page), [third.clone(), second.clone(), id.clone()]);
        let (_, page) = list("?sort=score,asc").await;
        let scores: Vec<i64> = page["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["score"].as_i64().unwrap())
            .collect();
        assert_eq!(scores, [0, 25, 55]);
        let (_, page) = list("?sort=createdAt").await;
        assert_eq!(ids(&page), [id.clone(), second.clone(), third.clone()]);
        let (_, page) = list("?priority=HIGH").await;
        assert_eq!(ids(&page), vec![id.clone()]);
        let (_, page) = list("?leadChannel=CHATBOT&productCode=LOAN_1").await;
        assert_eq!(ids(&page), vec![second.clone()]);
        let (_, page) = list("?status=NEW&size=2&page=1").await;
        assert_eq!(page["totalElements"], 3);
        assert_eq!(page["totalPages"], 2);
        assert_eq!(page["numberOfElements"], 1);
        assert_eq!(
            (page["first"].as_bool(), page["last"].as_bool()),
            (Some(false), Some(true))
        );
        let (_, page) = list("?status=QUALIFIED,CLOSED_WON").await;
        assert_eq!(page["totalElements"], 0);
        assert_eq!(page["empty"], true);
        let today = chrono::Utc::now().date_naive();
        let (_, page) = list(&format!("?createdFrom={}", today.succ_opt().unwrap())).await;
        assert_eq!(page["totalElements"], 0);
        let (_, page) = list(&format!("?createdFrom={today}&createdTo={today}")).await;
        assert_eq!(page["totalElements"], 3);
        let (status, body) = list("?size=101").await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["size"]);
        let (status, body) = list("?sort=leadUid,desc").await;
        assert_error(status, &body, 400, "INVALID_ARGUMENT", &["sort"]);
        // An agent's list holds only their leads; others' are 404, not 403.
        let (_, all) = list("").await;
        let assigned = |who: &str| -> Vec<String> {
            all["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["assignee"] == who)
                .map(|l| l["id"].as_str().unwrap().to_string())
                .collect()
        };
        let (mine, theirs) = (assigned(&alex), assigned(&bea));
        assert_eq!(mine.len() + theirs.len(), 3, "{all}");
        assert!(!mine.is_empty() && !theirs.is_empty(), "{all}");
        let (status, page) = call(s.authed(Method::GET, "/lead/api/leads", &agent)).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&page), mine);
        let (status, body) = call(s.authed(
            Method::GET,
            &format!("/lead/api/leads/{}", theirs[0]),
            &agent,
        ))
        .await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["status"], 404);
    }
}

#[tokio::test]
async fn update_bulk_update_and_history() {
    for backend in lms_testkit::backends() {
        let s = Stack::spawn(backend).await;
        let (_, admin) = s.signed_in("root", &[Role::Admin]).await;
        let (agent_id, agent) = s.signed_in("alex", &[Role::Agent]).await;
        s.product(&admin, "LOAN_1").await;
        let (_, l1) = s.submit("LOAN_1", json!({"city": "PUNE", "age": 35})).await;
        let (_, l2) = s.submit("LOAN_1", json!({"city": "DELHI"})).await;
        let id1 = l1["id"].as_str().unwrap().to_string();
        let id2 = l2["id"].as_str().unwrap().to_string();
        let path = format!("/lead/api/leads/{id1}");
        let put = |token: &str, body: Value| call(s.authed(Method::PUT, &path, token).json(&body));

        let (status, v2) = put(
            &admin,
            json!({"status": "IN_PROGRESS", "leadComment": "called back"}),
        )
        .await;
        assert_eq!(status, 200, "{v2}");
        assert_eq!(v2["status"], "IN_PROGRESS");
        assert_eq!(v2["leadComment"], "called back");
        assert_eq!(v2["version"], 2);
        assert_eq!(v2["score"], 55);

        // PUT back what was got, with one writable change.
        let mut back = v2.clone();
        back["priority"] = json!("URGENT");
        let (status, v3) = put(&admin, back).await;
        assert_eq!(status, 200, "{v3}");
        assert_eq!(v3["priority"], "URGENT");
        assert_eq!(v3["status"], "IN_PROGRESS");
        assert_eq!(v3["version"], 3);

        // Read-only fields may not change; unknown fields are not lead fields.
        let (status, body) = put(&admin, json!({"score": 99, "status": "QUALIFIED"})).await;
        assert_error(status, &body, 400, "FIELD_NOT_WRITABLE", &["score"]);
        let (status, body) = put(&admin, json!({"leadUid": "L-1999-000001", "tenant": "x"})).await;
        assert_error(
            status,
            &body,
            400,
            "FIELD_NOT_WRITABLE",
            &["leadUid", "tenant"],
        );
        // A stale version is a conflict, and nothing changed.
        let (status, body) = put(&admin, json!({"version": 2, "status": "QUALIFIED"})).await;
        assert_error(status, &body, 409, "LEAD_VERSION_CONFLICT", &[]);
        let (_, now) = call(s.authed(Method::GET, &path, &admin)).await;
        assert_eq!(
            (now["status"].as_str(), now["version"].as_i64()),
            (Some("IN_PROGRESS"), Some(3))
        );

        // Assigning makes the lead visible to its agent.
        let (status, v4) = put(&admin, json!({"assignee": agent_id, "version": 3})).await;
        assert_eq!(status, 200, "{v4}");
        assert_eq!(v4["assignee"], agent_id.as_str());
        let (status, _) = call(s.authed(Method::GET, &path, &agent)).await;
        assert_eq!(status, 200);

        // Bulk update: per-id results, unknown ids reported; an agent's too, for their own.
        let (status, res) = call(
            s.authed(Method::POST, "/lead/api/leads/bulk-update", &agent).json(
                &json!({"leadIds": [id1, "no-such-lead"], "updates": {"leadComment": "called"}}),
            ),
        )
        .await;
        assert_eq!(status, 200, "{res}");
        assert_eq!(res["updatedLeadIds"], json!([id1]));
        assert_eq!(res["failedLeadIds"], json!(["no-such-lead"]));
        let bulk =
            json!({"leadIds": [id1, id2, "no-such-lead"], "updates": {"status": "QUALIFIED"}});
        let (status, res) = call(
            s.authed(Method::POST, "/lead/api/leads/bulk-update", &admin)
                .json(&bulk),
        )
        .await;
        assert_eq!(status, 200, "{res}");
        assert_eq!(res["totalRequested"], 3);
        assert_eq!(res["totalUpdated"], 2);
        assert_eq!(res["totalFailed"], 1);
        let mut updated: Vec<&str> = res["updatedLeadIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        updated.sort();
        let mut want = vec![id1.as_str(), id2.as_str()];
        want.sort();
        assert_eq!(updated, want);
        assert_eq!(res["failedLeadIds"], json!(["no-such-lead"]));
        assert_eq!(res["errors"][0]["leadId"], "no-such-lead");
        assert_eq!(res["errors"][0]["reason"], "LEAD_NOT_FOUND");
        assert!(res["errors"][0]["message"].is_string());

        // History: oldest first, the public submission has no actor.
        let (status, history) =
            call(s.authed(Method::GET, &format!("{path}/history"), &admin)).await;
        assert_eq!(status, 200, "{history}");
        let entries = history.as_array().unwrap();
        assert!(entries.len() >= 5, "{history}");
        assert_eq!(entries[0]["eventType"], "LeadCreated");
        assert_eq!(entries[0]["actor"], Value::Null);
        assert_eq!(entries[0]["leadVersion"], 1);
        let versions: Vec<i64> = entries
            .iter()
            .map(|e| e["leadVersion"].as_i64().unwrap())
            .collect();
        assert!(versions.windows(2).all(|w| w[0] <= w[1]), "{versions:?}");
        let status_changes: Vec<(String, String)> = entries
            .iter()
            .flat_map(|e| e["changes"].as_array().unwrap().iter())
            .filter(|c| c["field"] == "status")
            .map(|c| {
                (
                    c["oldValue"].as_str().unwrap().to_string(),
                    c["newValue"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // (A change may be told by several events, e.g. LeadUpdated and LeadStatusChanged.)
        let first = status_changes.first().unwrap();
        let last = status_changes.last().unwrap();
        assert_eq!(
            (first.0.as_str(), first.1.as_str()),
            ("NEW", "IN_PROGRESS"),
            "{history}"
        );
        assert_eq!(
            (last.0.as_str(), last.1.as_str()),
            ("IN_PROGRESS", "QUALIFIED"),
            "{history}"
        );
        assert!(
            entries
                .iter()
                .flat_map(|e| e["changes"].as_array().unwrap().iter())
                .any(|c| c["field"] == "leadComment" && c["newValue"] == "called back"),
            "{history}"
        );
        for e in entries {
            for key in [
                "eventId",
                "eventType",
                "actor",
                "changes",
                "createdAt",
                "leadVersion",
            ] {
                assert!(e.get(key).is_some(), "history entry lacks {key}: {e}");
            }
        }
    }
}
