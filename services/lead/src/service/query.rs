//! Reading leads: one lead, filtered and sorted lists (offset or keyset paging, with the
//! total), and a lead's history. Visibility: an agent sees only leads assigned to them;
//! anything else is "not found", never "forbidden".

use super::LeadService;
use crate::domain::{Caller, Channel, Lead, LeadStatus, Priority};
use crate::error::LeadError;
use crate::store::{EventRow, ListQuery, SortKey};
use chrono::{DateTime, Utc};
use lms_platform::db::to_micros;
use lms_platform::paging;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Default page size of lead lists.
const DEFAULT_PAGE: i32 = 20;
/// Default and largest page of a history.
const HISTORY_PAGE: i32 = 100;

/// A list request, decoded.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// Page size (0: 20).
    pub page_size: i32,
    /// Keyset token.
    pub page_token: String,
    /// Offset page number (when no token).
    pub page_number: i32,
    /// Sort column.
    pub sort: SortKey,
    /// Ascending.
    pub ascending: bool,
    /// Status filter.
    pub statuses: Vec<LeadStatus>,
    /// Product filter.
    pub product_code: Option<String>,
    /// Assignee filter.
    pub assignee: Option<String>,
    /// Channel filter.
    pub channel: Option<Channel>,
    /// Priority filter.
    pub priority: Option<Priority>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
}

/// One page of leads.
#[derive(Debug, Clone)]
pub struct ListedPage {
    /// The leads.
    pub leads: Vec<Lead>,
    /// Keyset token of the next page; empty on the last.
    pub next_page_token: String,
    /// Leads matching the filters.
    pub total: i64,
}

/// One page of history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// Events, oldest first.
    pub entries: Vec<EventRow>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
}

#[derive(Serialize, Deserialize)]
struct ListCursor {
    /// Hash of filters and order: a token only continues the list it came from.
    q: String,
    v: i64,
    id: String,
}

#[derive(Serialize, Deserialize)]
struct HistoryCursor {
    l: String,
    after: i64,
}

fn page_size(requested: i32, default: i32, field: &str) -> Result<i64, LeadError> {
    paging::page_size(requested, default, field).map_err(|_| {
        LeadError::field(
            field,
            format!("must be between 1 and {}", paging::MAX_PAGE_SIZE),
        )
    })
}

impl LeadService {
    /// One visible lead by id or lead_uid.
    #[tracing::instrument(skip_all)]
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Lead, LeadError> {
        if id.is_empty() || id.len() > 64 {
            return Err(LeadError::NotFound);
        }
        match self.store.get(id).await? {
            Some(l) if caller.sees(&l) => Ok(l),
            _ => Err(LeadError::NotFound),
        }
    }

    /// A page of visible leads.
    #[tracing::instrument(skip_all)]
    pub async fn list(&self, caller: &Caller, r: ListRequest) -> Result<ListedPage, LeadError> {
        let limit = page_size(r.page_size, DEFAULT_PAGE, "pageSize")?;
        if r.page_number < 0 {
            return Err(LeadError::field("pageNumber", "must not be negative"));
        }
        let mut q = ListQuery {
            statuses: r.statuses,
            product_code: r.product_code,
            assignee: r.assignee,
            visible_to: caller.only_assignee().map(str::to_string),
            channel: r.channel,
            priority: r.priority,
            created_from: r.created_from.map(to_micros),
            created_to: r.created_to.map(to_micros),
            sort: r.sort,
            ascending: r.ascending,
            after: None,
            offset: i64::from(r.page_number) * limit,
            limit: limit + 1,
        };
        let shape = {
            let mut probe = q.clone();
            probe.offset = 0;
            probe.limit = 0;
            hex::encode(&Sha256::digest(format!("{probe:?}").as_bytes())[..12])
        };
        if !r.page_token.is_empty() {
            let c: ListCursor = paging::decode_token(&r.page_token, "pageToken")
                .map_err(|_| LeadError::field("pageToken", "is not a valid page token"))?;
            if c.q != shape {
                return Err(LeadError::field(
                    "pageToken",
                    "belongs to a list with other filters or order",
                ));
            }
            q.after = Some((c.v, c.id));
        }
        let (mut leads, total) = self.store.list(&q).await?;
        let more = i64::try_from(leads.len()).unwrap_or(i64::MAX) > limit;
        leads.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match leads.last() {
            Some(last) if more => paging::encode_token(&ListCursor {
                q: shape,
                v: q.sort.value_of(last),
                id: last.id.clone(),
            }),
            _ => String::new(),
        };
        Ok(ListedPage {
            leads,
            next_page_token,
            total,
        })
    }

    /// A visible lead's history, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn history(
        &self,
        caller: &Caller,
        id: &str,
        page_size_req: i32,
        token: &str,
    ) -> Result<HistoryPage, LeadError> {
        let limit = page_size(page_size_req, HISTORY_PAGE, "pageSize")?;
        let lead = self.get(caller, id).await?;
        let after = if token.is_empty() {
            0
        } else {
            let c: HistoryCursor = paging::decode_token(token, "pageToken")
                .map_err(|_| LeadError::field("pageToken", "is not a valid page token"))?;
            if c.l != lead.id {
                return Err(LeadError::field("pageToken", "belongs to another lead"));
            }
            c.after
        };
        let mut entries = self.store.history(&lead.id, after, limit + 1).await?;
        let more = i64::try_from(entries.len()).unwrap_or(i64::MAX) > limit;
        entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match entries.last() {
            Some(last) if more => paging::encode_token(&HistoryCursor {
                l: lead.id.clone(),
                after: last.id,
            }),
            _ => String::new(),
        };
        Ok(HistoryPage {
            entries,
            next_page_token,
        })
    }
}
