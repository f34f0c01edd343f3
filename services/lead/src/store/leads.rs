//! Reading leads (by id or lead_uid, filtered lists with offset or keyset paging) and
//! writing changes to them with their events in one transaction.

use super::events::{NewEvent, insert_events};
use super::sql::{Arg, Sql};
use super::submit::update_lead;
use super::{LEAD_COLS, Store, lead_from_row};
use crate::domain::lead::priority_code;
use crate::domain::{Channel, Lead, LeadStatus, Priority};
use crate::error::LeadError;
use sqlx::Any;

/// A list's sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    /// Submission time.
    CreateTime,
    /// Last change.
    UpdateTime,
    /// Score.
    Score,
    /// Priority (urgency order).
    Priority,
    /// Status (workflow order).
    Status,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            Self::CreateTime => "create_time",
            Self::UpdateTime => "update_time",
            Self::Score => "score",
            Self::Priority => "priority",
            Self::Status => "status",
        }
    }

    /// The sort value of a lead (what keyset tokens carry).
    pub fn value_of(self, l: &Lead) -> i64 {
        match self {
            Self::CreateTime => lms_platform::db::to_micros(l.create_time),
            Self::UpdateTime => lms_platform::db::to_micros(l.update_time),
            Self::Score => i64::from(l.score),
            Self::Priority => priority_code(l.priority),
            Self::Status => l.status.code(),
        }
    }
}

/// Filters, order and page of a lead list.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Only these statuses (empty: all).
    pub statuses: Vec<LeadStatus>,
    /// Only this product.
    pub product_code: Option<String>,
    /// Only this assignee.
    pub assignee: Option<String>,
    /// Only leads visible to an agent: assigned to this user.
    pub visible_to: Option<String>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Created at or after (µs).
    pub created_from: Option<i64>,
    /// Created before (µs).
    pub created_to: Option<i64>,
    /// Sort column.
    pub sort: SortKey,
    /// Ascending order.
    pub ascending: bool,
    /// Keyset: start after this `(sort value, id)`.
    pub after: Option<(i64, String)>,
    /// Offset (when no keyset).
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}

impl ListQuery {
    fn filters(&self, sql: &mut Sql) {
        let mut conds: Vec<String> = Vec::new();
        if !self.statuses.is_empty() {
            let l = sql.list(self.statuses.iter().map(|s| Arg::I(s.code())));
            conds.push(format!("status IN {l}"));
        }
        let mut eq = |sql: &mut Sql, col: &str, a: Arg| {
            let p = sql.arg(a);
            conds.push(format!("{col} = {p}"));
        };
        if let Some(p) = &self.product_code {
            eq(sql, "product_code", Arg::S(p.clone()));
        }
        if let Some(a) = &self.assignee {
            eq(sql, "assignee", Arg::S(a.clone()));
        }
        if let Some(a) = &self.visible_to {
            eq(sql, "assignee", Arg::S(a.clone()));
        }
        if let Some(c) = self.channel {
            eq(sql, "lead_channel", Arg::I(c.code()));
        }
        if let Some(p) = self.priority {
            eq(sql, "priority", Arg::I(priority_code(p)));
        }
        if let Some(t) = self.created_from {
            let p = sql.arg(Arg::I(t));
            conds.push(format!("create_time >= {p}"));
        }
        if let Some(t) = self.created_to {
            let p = sql.arg(Arg::I(t));
            conds.push(format!("create_time < {p}"));
        }
        sql.push(" WHERE 1 = 1");
        for c in conds {
            sql.push(" AND ").push(&c);
        }
    }
}

fn lookup_column(id: &str) -> &'static str {
    if id.starts_with("L-") {
        "lead_uid"
    } else {
        "id"
    }
}

impl Store {
    /// One lead by id or lead_uid.
    pub async fn get(&self, id: &str) -> Result<Option<Lead>, LeadError> {
        let sql = format!(
            "SELECT {LEAD_COLS} FROM leads WHERE {} = $1",
            lookup_column(id)
        );
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.db().pool)
            .await?;
        row.as_ref().map(lead_from_row).transpose()
    }

    /// A page of leads and the number matching the filters.
    pub async fn list(&self, q: &ListQuery) -> Result<(Vec<Lead>, i64), LeadError> {
        let mut count = Sql::new("SELECT COUNT(*) FROM leads");
        q.filters(&mut count);
        let total: i64 = sqlx::query_scalar::<Any, i64>(&count.text)
            .bind_all(&count)
            .fetch_one(&self.db().pool)
            .await?;

        let mut sql = Sql::new(format!("SELECT {LEAD_COLS} FROM leads"));
        q.filters(&mut sql);
        let col = q.sort.column();
        let (cmp, dir) = if q.ascending {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some((v, id)) = &q.after {
            let pv = sql.arg(Arg::I(*v));
            let pv2 = sql.arg(Arg::I(*v));
            let pid = sql.arg(Arg::S(id.clone()));
            sql.push(&format!(
                " AND ({col} {cmp} {pv} OR ({col} = {pv2} AND id {cmp} {pid}))"
            ));
        }
        let lim = sql.arg(Arg::I(q.limit));
        sql.push(&format!(" ORDER BY {col} {dir}, id {dir} LIMIT {lim}"));
        if q.after.is_none() && q.offset > 0 {
            let off = sql.arg(Arg::I(q.offset));
            sql.push(&format!(" OFFSET {off}"));
        }
        let rows = sql.query().fetch_all(&self.db().pool).await?;
        let leads = rows.iter().map(lead_from_row).collect::<Result<_, _>>()?;
        Ok((leads, total))
    }

    /// Reads leads by ids or lead_uids inside `tx`, locking them on PostgreSQL.
    pub async fn lock_leads(
        &self,
        w: &mut super::WriteTx,
        ids: &[String],
    ) -> Result<Vec<Lead>, LeadError> {
        let (uids, plain): (Vec<&String>, Vec<&String>) =
            ids.iter().partition(|i| lookup_column(i) == "lead_uid");
        let mut sql = Sql::new(format!("SELECT {LEAD_COLS} FROM leads WHERE "));
        let mut conds = Vec::new();
        if !plain.is_empty() {
            let l = sql.list(plain.iter().map(|s| Arg::S((*s).clone())));
            conds.push(format!("id IN {l}"));
        }
        if !uids.is_empty() {
            let l = sql.list(uids.iter().map(|s| Arg::S((*s).clone())));
            conds.push(format!("lead_uid IN {l}"));
        }
        if conds.is_empty() {
            return Ok(Vec::new());
        }
        sql.push(&conds.join(" OR "));
        if self.pg() {
            sql.push(" ORDER BY id FOR UPDATE");
        }
        let rows = sql.query().fetch_all(&mut *w.tx).await?;
        rows.iter().map(lead_from_row).collect()
    }

    /// Writes changed leads (each was read at `old_version` in `tx`) and their events,
    /// then commits. Any failure rolls everything back.
    pub async fn commit_changes(
        &self,
        mut w: super::WriteTx,
        changed: Vec<(i64, Lead)>,
        events: Vec<NewEvent>,
    ) -> Result<(), LeadError> {
        for (old_version, lead) in &changed {
            if !update_lead(&mut w.tx, lead, *old_version).await? {
                w.rollback().await?;
                return Err(LeadError::VersionConflict);
            }
        }
        insert_events(&mut w.tx, events).await?;
        w.commit().await
    }
}

/// Binds a [`Sql`]'s arguments to a scalar query.
trait BindAll<'q> {
    fn bind_all(self, sql: &'q Sql) -> Self;
}

impl<'q> BindAll<'q> for sqlx::query::QueryScalar<'q, Any, i64, sqlx::any::AnyArguments<'q>> {
    fn bind_all(mut self, sql: &'q Sql) -> Self {
        for a in &sql.args {
            self = match a {
                Arg::I(i) => self.bind(*i),
                Arg::S(s) => self.bind(s.clone()),
            };
        }
        self
    }
}
