//! `/lead/api/leads...`: public submission, list with filters and sort, get, update
//! (writable: status, priority, assignee, leadComment), bulk update and history.

mod put;

use super::AppState;
use super::page::{page_and_size, page_json};
use crate::body::{Fields, JsonBody};
use crate::convert::lead::{
    bulk_json, bulk_request, history_json, lead_json, submit_json, submit_request,
};
use crate::convert::{enums, time};
use crate::error::RestError;
use crate::query::{Params, Segment};
use crate::upstream::Caller;
use axum::Json;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use lms_proto::lead::v1 as pb;
use pb::lead_service_client::LeadServiceClient;
use serde_json::Value;

type JsonResult = Result<Json<Value>, RestError>;

/// Most pages the history route reads (100 entries each).
const MAX_HISTORY_PAGES: usize = 100;

fn leads(s: &AppState) -> LeadServiceClient<tonic::transport::Channel> {
    LeadServiceClient::new(s.up.lead.clone())
}

fn lead_of(l: Option<pb::Lead>) -> Result<pb::Lead, RestError> {
    l.ok_or_else(|| RestError::bad_upstream("an answer without its lead"))
}

/// `POST /lead/api/leads` (public): 201 with the lead and `outcome` (200 when the
/// submission was merged into or suppressed as a duplicate of an existing lead).
pub async fn submit(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), RestError> {
    let key = match headers.get("idempotency-key") {
        None => String::new(),
        Some(v) => v
            .to_str()
            .map(|s| s.trim().to_string())
            .map_err(|_| RestError::field("Idempotency-Key", "must be visible ASCII"))?,
    };
    let mut f = Fields::new(body, "");
    let req = submit_request(&mut f, key);
    f.finish()?;
    let res = leads(&s)
        .submit_lead(caller.request(req))
        .await?
        .into_inner();
    let created = matches!(
        pb::SubmissionOutcome::try_from(res.outcome),
        Ok(pb::SubmissionOutcome::Created | pb::SubmissionOutcome::Quarantined)
    );
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(submit_json(&res))))
}

/// `GET /lead/api/leads/{id}` (`id` or `leadUid`).
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Segment(id): Segment,
    q: Params,
) -> JsonResult {
    q.finish()?;
    let res = leads(&s)
        .get_lead(caller.request(pb::GetLeadRequest { id }))
        .await?
        .into_inner();
    Ok(Json(lead_json(&lead_of(res.lead)?)))
}

/// Parses `sort=field[,asc|desc]` (Spring's syntax; no direction means ascending).
fn sort(q: &mut Params) -> (i32, bool) {
    use pb::LeadSortField as F;
    let Some(s) = q.one("sort") else {
        return (F::CreateTime as i32, false);
    };
    let (field, dir) = match s.split_once(',') {
        Some((f, d)) => (f.trim(), Some(d.trim().to_ascii_lowercase())),
        None => (s.trim(), None),
    };
    let field = match field {
        "createdAt" => Some(F::CreateTime),
        "updatedAt" => Some(F::UpdateTime),
        "score" => Some(F::Score),
        "priority" => Some(F::Priority),
        "status" => Some(F::Status),
        _ => None,
    };
    let ascending = match dir.as_deref() {
        None | Some("asc") => Some(true),
        Some("desc") => Some(false),
        Some(_) => None,
    };
    match (field, ascending) {
        (Some(f), Some(a)) => (f as i32, a),
        _ => {
            q.fail(
                "sort",
                "must be field[,asc|desc] with field one of createdAt, updatedAt, score, priority, status",
            );
            (F::CreateTime as i32, false)
        }
    }
}

fn bound(q: &mut Params, name: &str, edge: time::DayEdge) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = q.one(name)?;
    let d = time::parse_bound(&s, edge);
    if d.is_none() {
        q.fail(name, "must be an RFC 3339 instant or a date YYYY-MM-DD");
    }
    d
}

/// `GET /lead/api/leads?page&size&sort&status&productCode&assignee&leadChannel&priority
/// &createdFrom&createdTo`: a page of leads.
pub async fn list(State(s): State<AppState>, caller: Caller, mut q: Params) -> JsonResult {
    let (page, size) = page_and_size(&mut q);
    let (sort_field, sort_ascending) = sort(&mut q);
    let mut statuses = Vec::new();
    for st in q.list("status") {
        match enums::status::parse(&st) {
            Some(v) => statuses.push(v),
            None => q.fail(
                "status",
                format!(
                    "unknown value {st:?}; expected one of {}",
                    enums::status::expected()
                ),
            ),
        }
    }
    let product_code = q.one("productCode").unwrap_or_default();
    let assignee = q.one("assignee").unwrap_or_default();
    let lead_channel = q
        .enumeration(
            "leadChannel",
            enums::channel::parse,
            &enums::channel::expected(),
        )
        .unwrap_or_default();
    let priority = q
        .enumeration(
            "priority",
            enums::priority::parse,
            &enums::priority::expected(),
        )
        .unwrap_or_default();
    let from = bound(&mut q, "createdFrom", time::DayEdge::Start);
    let to = bound(&mut q, "createdTo", time::DayEdge::End);
    if from.zip(to).is_some_and(|(f, t)| f >= t) {
        q.fail("createdTo", "must be after createdFrom");
    }
    q.finish()?;
    let req = pb::ListLeadsRequest {
        page_size: i32::try_from(size).unwrap_or(20),
        page_token: String::new(),
        page_number: i32::try_from(page).unwrap_or(0),
        sort_field,
        sort_ascending,
        statuses,
        product_code,
        assignee,
        lead_channel,
        priority,
        create_time_from: from.map(time::to_timestamp),
        create_time_to: to.map(time::to_timestamp),
    };
    let res = leads(&s)
        .list_leads(caller.request(req))
        .await?
        .into_inner();
    let content = res.leads.iter().map(lead_json).collect();
    Ok(Json(page_json(content, res.total_size, page, size)))
}

/// `PUT /lead/api/leads/{id}`: changes status, priority, assignee and leadComment; fields
/// absent stay as they are; any other field must equal the stored value (else 400
/// FIELD_NOT_WRITABLE naming it); a stale `version` is a 409. The comparison is made
/// against a fresh GET, and the update is conditioned on that GET's version, so a change
/// made in between is a 409 rather than a silent overwrite.
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Segment(id): Segment,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut client = leads(&s);
    let stored = lead_of(
        client
            .get_lead(caller.request(pb::GetLeadRequest { id }))
            .await?
            .into_inner()
            .lead,
    )?;
    let change = put::read_put(&body, &stored)?;
    if change.paths.is_empty() {
        return Ok(Json(lead_json(&stored)));
    }
    let req = pb::UpdateLeadRequest {
        lead: Some(change.lead),
        update_mask: Some(prost_types::FieldMask {
            paths: change.paths,
        }),
    };
    let res = client.update_lead(caller.request(req)).await?.into_inner();
    Ok(Json(lead_json(&lead_of(res.lead)?)))
}

/// `POST /lead/api/leads/bulk-update` `{leadIds, updates}`: per-id results (MANAGER, ADMIN).
pub async fn bulk_update(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut f = Fields::new(body, "");
    let req = bulk_request(&mut f);
    f.finish()?;
    let res = leads(&s)
        .bulk_update_leads(caller.request(req))
        .await?
        .into_inner();
    Ok(Json(bulk_json(&res)))
}

/// `GET /lead/api/leads/{id}/history`: every change, oldest first.
pub async fn history(
    State(s): State<AppState>,
    caller: Caller,
    Segment(id): Segment,
    q: Params,
) -> JsonResult {
    q.finish()?;
    let mut client = leads(&s);
    let mut out = Vec::new();
    let mut token = String::new();
    for _ in 0..MAX_HISTORY_PAGES {
        let req = pb::ListLeadHistoryRequest {
            lead_id: id.clone(),
            page_size: 100,
            page_token: token,
        };
        let res = client
            .list_lead_history(caller.request(req))
            .await?
            .into_inner();
        out.extend(res.entries.iter().map(history_json));
        if res.next_page_token.is_empty() {
            break;
        }
        token = res.next_page_token;
    }
    Ok(Json(Value::Array(out)))
}
