//! The tonic face of the lead service: `LeadGrpc` validates and converts each request,
//! calls [`LeadService`], and converts the answer back. No SQL and no business rules here.

use crate::convert;
use crate::domain::update::{Changes, Field, writable};
use crate::domain::{Caller, Channel};
use crate::error::LeadError;
use crate::service::{LeadService, ListRequest, SubmitRequest};
use crate::store::SortKey;
use futures::{Stream, StreamExt};
use lms_platform::auth::{Principal, Role, principal};
use lms_platform::json::from_struct;
use lms_proto::lead::v1 as pb;
use lms_proto::lead::v1::lead_service_server::LeadService as LeadApi;
use prost::Message;
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Metadata header that may carry the idempotency key (the gateway forwards
/// `Idempotency-Key` here when the body has none).
const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Most event types a stream may filter on.
const MAX_EVENT_TYPES: usize = 20;

/// The gRPC server of `lms.lead.v1.LeadService`.
#[derive(Clone)]
pub struct LeadGrpc {
    svc: Arc<LeadService>,
}

impl LeadGrpc {
    /// Wraps the service.
    pub fn new(svc: Arc<LeadService>) -> Self {
        Self { svc }
    }
}

fn caller<T>(req: &Request<T>) -> Caller {
    match principal(req) {
        Principal::Anonymous => Caller::Public,
        Principal::Service => Caller::Service,
        Principal::User(u) => Caller::User {
            admin: u.has(Role::Admin),
            sees_all: u.sees_all_leads(),
            id: u.user_id,
        },
    }
}

/// The caller of a non-public method (the auth layer already refused anonymous calls).
fn signed_in<T>(req: &Request<T>) -> Result<Caller, Status> {
    match caller(req) {
        Caller::Public => Err(lms_platform::ApiError::unauthenticated("UNAUTHENTICATED").into()),
        c => Ok(c),
    }
}

fn sort_key(v: i32) -> Result<SortKey, LeadError> {
    match pb::LeadSortField::try_from(v) {
        Ok(pb::LeadSortField::Unspecified | pb::LeadSortField::CreateTime) => {
            Ok(SortKey::CreateTime)
        }
        Ok(pb::LeadSortField::UpdateTime) => Ok(SortKey::UpdateTime),
        Ok(pb::LeadSortField::Score) => Ok(SortKey::Score),
        Ok(pb::LeadSortField::Priority) => Ok(SortKey::Priority),
        Ok(pb::LeadSortField::Status) => Ok(SortKey::Status),
        Err(_) => Err(LeadError::field(
            "sortField",
            "must be one of createTime, updateTime, score, priority, status",
        )),
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// The changes an update mask names, with values from `lead`.
fn masked_changes(lead: &pb::Lead, paths: &[String]) -> Result<Changes, LeadError> {
    let mut c = Changes::default();
    for path in paths {
        match writable(path) {
            None => return Err(LeadError::FieldNotWritable(path.clone())),
            Some(Field::Status) => {
                c.status = Some(
                    convert::status(lead.status, "status")?
                        .ok_or_else(|| LeadError::field("status", "is required"))?,
                );
            }
            Some(Field::Priority) => {
                c.priority = Some(
                    convert::priority(lead.priority, "priority")?
                        .ok_or_else(|| LeadError::field("priority", "is required"))?,
                );
            }
            Some(Field::Assignee) => c.assignee = Some(lead.assignee.clone()),
            Some(Field::LeadComment) => c.lead_comment = Some(lead.lead_comment.clone()),
        }
    }
    Ok(c)
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::StreamEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl LeadApi for LeadGrpc {
    async fn submit_lead(
        &self,
        request: Request<pb::SubmitLeadRequest>,
    ) -> Result<Response<pb::SubmitLeadResponse>, Status> {
        let header_key = request
            .metadata()
            .get(IDEMPOTENCY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let origin = lms_platform::auth::request_origin(request.metadata()).map(str::to_string);
        let r = request.into_inner();
        let form_bytes = r.form_data.as_ref().map_or(0, Message::encoded_len);
        let channel = convert::channel(r.lead_channel, "leadChannel")?.unwrap_or(Channel::Form);
        let submitted = self
            .svc
            .submit(SubmitRequest {
                product_code: r.product_code,
                form_data: r.form_data.as_ref().map(from_struct).unwrap_or_default(),
                form_bytes,
                config_hash: r.config_hash,
                signature: r.signature,
                captcha_token: r.captcha_response.map(|c| c.token).unwrap_or_default(),
                channel,
                idempotency_key: non_empty(r.idempotency_key).or(header_key.and_then(non_empty)),
                origin,
            })
            .await?;
        Ok(Response::new(pb::SubmitLeadResponse {
            lead: Some(convert::lead(&submitted.lead)),
            outcome: convert::outcome(submitted.outcome) as i32,
        }))
    }

    async fn get_lead(
        &self,
        request: Request<pb::GetLeadRequest>,
    ) -> Result<Response<pb::GetLeadResponse>, Status> {
        let who = signed_in(&request)?;
        let id = request.into_inner().id;
        if id.is_empty() {
            return Err(LeadError::field("id", "is required").into());
        }
        let lead = self.svc.get(&who, &id).await?;
        Ok(Response::new(pb::GetLeadResponse {
            lead: Some(convert::lead(&lead)),
        }))
    }

    async fn list_leads(
        &self,
        request: Request<pb::ListLeadsRequest>,
    ) -> Result<Response<pb::ListLeadsResponse>, Status> {
        let who = signed_in(&request)?;
        let r = request.into_inner();
        let statuses = r
            .statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let field = format!("statuses[{i}]");
                convert::status(*s, &field)?
                    .ok_or_else(|| LeadError::field(field, "must be a status"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let page = self
            .svc
            .list(
                &who,
                ListRequest {
                    page_size: r.page_size,
                    page_token: r.page_token,
                    page_number: r.page_number,
                    sort: sort_key(r.sort_field)?,
                    ascending: r.sort_ascending,
                    statuses,
                    product_code: non_empty(r.product_code),
                    assignee: non_empty(r.assignee),
                    channel: convert::channel(r.lead_channel, "leadChannel")?,
                    priority: convert::priority(r.priority, "priority")?,
                    created_from: r
                        .create_time_from
                        .as_ref()
                        .map(|t| convert::instant(t, "createTimeFrom"))
                        .transpose()?,
                    created_to: r
                        .create_time_to
                        .as_ref()
                        .map(|t| convert::instant(t, "createTimeTo"))
                        .transpose()?,
                },
            )
            .await?;
        Ok(Response::new(pb::ListLeadsResponse {
            leads: page.leads.iter().map(convert::lead).collect(),
            next_page_token: page.next_page_token,
            total_size: page.total,
        }))
    }

    async fn update_lead(
        &self,
        request: Request<pb::UpdateLeadRequest>,
    ) -> Result<Response<pb::UpdateLeadResponse>, Status> {
        let who = signed_in(&request)?;
        let r = request.into_inner();
        let lead = r
            .lead
            .ok_or_else(|| LeadError::field("lead", "is required"))?;
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        let changes = masked_changes(&lead, &paths)?;
        let id = if lead.id.is_empty() {
            lead.lead_uid.clone()
        } else {
            lead.id.clone()
        };
        if id.is_empty() {
            return Err(LeadError::field("lead.id", "is required").into());
        }
        let updated = self.svc.update(&who, &id, lead.version, changes).await?;
        Ok(Response::new(pb::UpdateLeadResponse {
            lead: Some(convert::lead(&updated)),
        }))
    }

    async fn bulk_update_leads(
        &self,
        request: Request<pb::BulkUpdateLeadsRequest>,
    ) -> Result<Response<pb::BulkUpdateLeadsResponse>, Status> {
        let who = signed_in(&request)?;
        let r = request.into_inner();
        let u = r.updates.unwrap_or_default();
        let changes = Changes {
            status: convert::status(u.status, "updates.status")?,
            priority: convert::priority(u.priority, "updates.priority")?,
            assignee: u.assignee,
            lead_comment: u.lead_comment,
        };
        let res = self.svc.bulk_update(&who, r.lead_ids, changes).await?;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(pb::BulkUpdateLeadsResponse {
            total_requested: count(res.requested),
            total_updated: count(res.updated.len()),
            total_failed: count(res.failed.len()),
            failed_lead_ids: res.failed.iter().map(|f| f.lead_id.clone()).collect(),
            errors: res
                .failed
                .into_iter()
                .map(|f| pb::BulkUpdateError {
                    lead_id: f.lead_id,
                    reason: f.reason.to_string(),
                    message: f.message,
                })
                .collect(),
            updated_lead_ids: res.updated,
        }))
    }

    async fn list_lead_history(
        &self,
        request: Request<pb::ListLeadHistoryRequest>,
    ) -> Result<Response<pb::ListLeadHistoryResponse>, Status> {
        let who = signed_in(&request)?;
        let r = request.into_inner();
        if r.lead_id.is_empty() {
            return Err(LeadError::field("leadId", "is required").into());
        }
        let page = self
            .svc
            .history(&who, &r.lead_id, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListLeadHistoryResponse {
            entries: page.entries.iter().map(convert::history_entry).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        signed_in(&request)?;
        let r = request.into_inner();
        if r.after_position < 0 {
            return Err(LeadError::field("afterPosition", "must not be negative").into());
        }
        if r.event_types.len() > MAX_EVENT_TYPES || r.event_types.iter().any(|t| t.len() > 64) {
            return Err(LeadError::field(
                "eventTypes",
                format!("at most {MAX_EVENT_TYPES} names of at most 64 characters"),
            )
            .into());
        }
        let rx = self
            .svc
            .stream(r.after_position, r.event_types, !r.no_follow);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|item| match item {
            Ok(e) => Ok(pb::StreamEventsResponse {
                event: Some(convert::event(&e)),
            }),
            Err(e) => Err(Status::from(e)),
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
