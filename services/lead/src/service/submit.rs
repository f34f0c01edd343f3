//! The public submission. Checks run cheapest first and nothing is written until all
//! pass: limits, product version (cached), origin, form token, captcha, form (schema, unknown
//! fields, dictionaries, normalisation), idempotency, duplicate policy, scoring,
//! assignment; then one transaction stores the lead, its event, the consumed nonce and
//! the idempotency record.

use super::LeadService;
use crate::domain::form::{check_limits, duplicate_key, trim_strings};
use crate::domain::product::{DuplicatePolicy, ProductVersion};
use crate::domain::{
    Channel, EventType, FieldChange, Lead, LeadStatus, ScoreBreakdown, SubmitOutcome, Submitted,
    lead_uid,
};
use crate::error::LeadError;
use crate::store::submit::{DuplicateWrite, IdempotencyRecord};
use crate::store::{Conflict, NewEvent, NewSubmission};
use chrono::{DateTime, Utc};
use lms_platform::db::to_micros;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How often a submission retries after a concurrent duplicate won the race.
const DUPLICATE_ATTEMPTS: usize = 4;
/// Longest idempotency key.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Longest form token we bother to verify.
const MAX_SIGNATURE: usize = 2_048;

/// A public submission, already decoded.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    /// Product code.
    pub product_code: String,
    /// The answers.
    pub form_data: Map<String, Value>,
    /// Encoded size of the answers, in bytes.
    pub form_bytes: usize,
    /// Config hash from the render package.
    pub config_hash: String,
    /// Form token.
    pub signature: String,
    /// Captcha token (unused while only mode NONE is supported).
    pub captcha_token: String,
    /// Channel.
    pub channel: Channel,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// The browser's `Origin` header, when there was one.
    pub origin: Option<String>,
}

impl SubmitRequest {
    /// SHA-256 of the canonical request (JSON with sorted keys), for idempotency.
    fn fingerprint(&self) -> String {
        let canonical = serde_json::json!({
            "productCode": self.product_code,
            "configHash": self.config_hash,
            "signature": self.signature,
            "captcha": self.captcha_token,
            "channel": self.channel.code(),
            "formData": self.form_data,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

fn form_invalid(violations: Vec<lms_platform::Violation>) -> LeadError {
    LeadError::Invalid {
        reason: "FORM_INVALID",
        violations,
    }
}

impl LeadService {
    /// Submits a lead (see the module docs for the order of checks).
    #[tracing::instrument(skip_all, fields(product = %req.product_code))]
    pub async fn submit(&self, mut req: SubmitRequest) -> Result<Submitted, LeadError> {
        self.check_request(&req)?;
        let product = self
            .catalog
            .get(&self.peers, &req.product_code, &req.config_hash)
            .await?;
        if !product.allows_origin(req.origin.as_deref()) {
            return Err(LeadError::OriginNotAllowed);
        }
        if req.signature.is_empty() || req.signature.len() > MAX_SIGNATURE {
            return Err(LeadError::InvalidFormSignature);
        }
        let token = self
            .form_keys
            .verify(&self.peers, &req.signature, self.clock.now())
            .await?;
        let claims = &token.claims;
        if claims.product_code != req.product_code
            || claims.config_hash != req.config_hash
            || claims.version != product.version
            || claims.nonce.is_empty()
        {
            return Err(LeadError::InvalidFormSignature);
        }
        if !product.captcha_none {
            return Err(LeadError::CaptchaUnsupported);
        }
        // The fingerprint covers the request as sent, so take it before normalising.
        let idem = req
            .idempotency_key
            .clone()
            .map(|key| (key, req.fingerprint()));
        let mut data = Value::Object(std::mem::take(&mut req.form_data));
        trim_strings(&mut data);
        let form = match data {
            Value::Object(m) => product.form.check(m).map_err(form_invalid)?,
            _ => Map::new(),
        };
        if let Some((key, fingerprint)) = &idem
            && let Some(done) = self.replay(&req.product_code, key, fingerprint).await?
        {
            return Ok(done);
        }
        let now = self.now();
        let nonce_expire = to_micros(token.expires_at);
        let dup_key = duplicate_key(&form, &product.duplicate_key_fields);
        let window_start = match (&dup_key, product.duplicate_policy) {
            (Some(_), DuplicatePolicy::Merge | DuplicatePolicy::Suppress) => Some(to_micros(
                now - chrono::Duration::hours(product.duplicate_window_hours),
            )),
            _ => None,
        };
        let nonce = token.claims.nonce;
        // A twin committing between our duplicate lookup and our write makes the write
        // fail (the key's claim, or the merged lead's version); the lookup then sees it.
        for _ in 0..DUPLICATE_ATTEMPTS {
            let found = match (&dup_key, window_start) {
                (Some(k), Some(since)) => {
                    self.store
                        .find_duplicate(&req.product_code, k, since)
                        .await?
                }
                _ => None,
            };
            let written = match found {
                Some(existing) => {
                    self.duplicate(
                        &req,
                        &product,
                        existing,
                        form.clone(),
                        &nonce,
                        nonce_expire,
                        idem.clone(),
                        now,
                    )
                    .await?
                }
                None => {
                    let new = Fresh {
                        form: form.clone(),
                        dup_key: dup_key.clone(),
                        window_start,
                        nonce: nonce.clone(),
                        nonce_expire,
                        idem: idem.clone(),
                        now,
                    };
                    self.create(&req, &product, new).await?
                }
            };
            match written {
                Ok(done) => {
                    self.hub.poke();
                    return Ok(done);
                }
                Err(Conflict::Duplicate | Conflict::Stale) => continue,
                Err(c) => {
                    return self
                        .after_conflict(&req.product_code, idem.as_ref(), c)
                        .await;
                }
            }
        }
        Err(LeadError::Contended)
    }

    /// Writes a new lead; `Err(conflict)` when a constraint or the duplicate claim refused
    /// it.
    async fn create(
        &self,
        req: &SubmitRequest,
        product: &ProductVersion,
        new: Fresh,
    ) -> Result<Result<Submitted, Conflict>, LeadError> {
        let Fresh {
            form,
            dup_key,
            window_start,
            nonce,
            nonce_expire,
            idem,
            now,
        } = new;
        let scored = product.rules.evaluate(&form);
        let agents = self.agents.get(&self.peers).await;
        let n = self.uids.next(&self.store).await?;
        let assignee = if agents.is_empty() {
            String::new()
        } else {
            let slot = self.slots.next(&self.store).await?;
            usize::try_from((slot - 1).rem_euclid(i64::try_from(agents.len()).unwrap_or(1)))
                .ok()
                .and_then(|i| agents.get(i).cloned())
                .unwrap_or_default()
        };
        let lead = Lead {
            id: uuid::Uuid::now_v7().to_string(),
            lead_uid: lead_uid(now, n),
            product_code: req.product_code.clone(),
            status: LeadStatus::New,
            priority: scored.priority,
            score: scored.score,
            assignee,
            form_data: form,
            config_hash: req.config_hash.clone(),
            scoring_version: product.version,
            lead_channel: req.channel,
            lead_comment: String::new(),
            document_metadata: None,
            score_breakdown: ScoreBreakdown::from(&scored),
            version: 1,
            create_time: now,
            update_time: now,
        };
        let submitted = Submitted {
            lead,
            outcome: SubmitOutcome::Created,
        };
        let event = NewEvent::of(&submitted.lead, EventType::LeadCreated, &[], "", now)?;
        let idempotency = idem
            .map(|(key, fingerprint)| {
                Ok::<_, LeadError>(IdempotencyRecord {
                    key,
                    fingerprint,
                    response: crate::store::json(&submitted)?,
                })
            })
            .transpose()?;
        let outcome = self
            .store
            .insert_submission(NewSubmission {
                lead: submitted.lead.clone(),
                dup_key,
                event,
                nonce,
                nonce_expire_micros: nonce_expire,
                idempotency,
                dup_window_start: window_start,
            })
            .await?;
        if outcome.is_ok() {
            tracing::debug!(lead_id = %submitted.lead.id, score = submitted.lead.score, "lead created");
        }
        Ok(outcome.map(|()| submitted))
    }

    /// Request limits, before anything costs a call.
    fn check_request(&self, req: &SubmitRequest) -> Result<(), LeadError> {
        let limits = &self.cfg.submission;
        if req.form_bytes > limits.max_form_bytes {
            return Err(LeadError::PayloadTooLarge {
                limit: limits.max_form_bytes,
            });
        }
        let code_ok = (2..=40).contains(&req.product_code.len())
            && req
                .product_code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !code_ok {
            return Err(LeadError::field(
                "productCode",
                "must match [A-Z0-9_-]{2,40}",
            ));
        }
        if req.config_hash.is_empty() {
            return Err(LeadError::field("configHash", "is required"));
        }
        if req.config_hash.len() > 128 {
            return Err(LeadError::ConfigHashUnknown);
        }
        if let Some(k) = &req.idempotency_key
            && (k.chars().count() > MAX_IDEMPOTENCY_KEY || k.chars().any(char::is_control))
        {
            return Err(LeadError::field(
                "idempotencyKey",
                format!("must be at most {MAX_IDEMPOTENCY_KEY} printable characters"),
            ));
        }
        let v = check_limits(&req.form_data, limits);
        if !v.is_empty() {
            return Err(form_invalid(v));
        }
        Ok(())
    }

    /// The stored answer of an idempotency key used with the same request; an error when
    /// it was used with another.
    async fn replay(
        &self,
        product_code: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Option<Submitted>, LeadError> {
        match self.store.idempotency(product_code, key).await? {
            Some((fp, _)) if fp != fingerprint => Err(LeadError::IdempotencyKeyReused),
            Some((_, response)) => serde_json::from_str(&response)
                .map(Some)
                .map_err(|e| LeadError::Corrupt(format!("idempotency response: {e}"))),
            None => Ok(None),
        }
    }

    /// After a unique conflict: when a concurrent twin with the same idempotency key
    /// committed first, its answer is replayed; otherwise the token was already used.
    async fn after_conflict(
        &self,
        product_code: &str,
        idem: Option<&(String, String)>,
        c: Conflict,
    ) -> Result<Submitted, LeadError> {
        if let Some((key, fingerprint)) = idem
            && matches!(c, Conflict::Nonce | Conflict::IdempotencyKey)
            && let Some(done) = self.replay(product_code, key, fingerprint).await?
        {
            return Ok(done);
        }
        Err(match c {
            Conflict::Stale => LeadError::VersionConflict,
            _ => LeadError::InvalidFormSignature,
        })
    }

    /// A duplicate under MERGE or SUPPRESS, decided against the existing lead as it is
    /// once locked. The answer shows the caller only their own answers: another visitor's
    /// data is never returned to the public.
    #[allow(clippy::too_many_arguments)]
    async fn duplicate(
        &self,
        req: &SubmitRequest,
        product: &ProductVersion,
        existing: Lead,
        form: Map<String, Value>,
        nonce: &str,
        nonce_expire: i64,
        idem: Option<(String, String)>,
        now: DateTime<Utc>,
    ) -> Result<Result<Submitted, Conflict>, LeadError> {
        let decide = |current: Lead| {
            let (lead, outcome, merged) = match product.duplicate_policy {
                DuplicatePolicy::Merge => {
                    let (lead, events) = merge(req, product, &current, form.clone(), now)?;
                    (lead.clone(), SubmitOutcome::Merged, Some((lead, events)))
                }
                _ => (current, SubmitOutcome::DuplicateSuppressed, None),
            };
            let mut shown = lead;
            shown.form_data = form;
            shown.lead_comment = String::new();
            shown.document_metadata = None;
            let answer = Submitted {
                lead: shown,
                outcome,
            };
            let idempotency = idem
                .map(|(key, fingerprint)| {
                    Ok::<_, LeadError>(IdempotencyRecord {
                        key,
                        fingerprint,
                        response: crate::store::json(&answer)?,
                    })
                })
                .transpose()?;
            Ok(DuplicateWrite {
                merged,
                idempotency,
                answer,
            })
        };
        self.store
            .write_duplicate(&existing.id, nonce, nonce_expire, to_micros(now), decide)
            .await
    }
}

/// `form` merged into `existing`: the answers overlaid, re-scored with `product`'s rules,
/// the version raised, and the `LeadUpdated` event listing what changed.
fn merge(
    req: &SubmitRequest,
    product: &ProductVersion,
    existing: &Lead,
    form: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(Lead, Vec<NewEvent>), LeadError> {
    let mut data = existing.form_data.clone();
    let mut diff = Vec::new();
    for (k, v) in form {
        let old = data.get(&k).cloned().unwrap_or(Value::Null);
        if old != v {
            diff.push(FieldChange::new(
                &format!("formData.{k}"),
                text(&old),
                text(&v),
            ));
            data.insert(k, v);
        }
    }
    let scored = product.rules.evaluate(&data);
    let mut lead = existing.clone();
    if scored.score != existing.score {
        diff.push(FieldChange::new(
            "score",
            existing.score.to_string(),
            scored.score.to_string(),
        ));
    }
    if scored.priority != existing.priority {
        diff.push(FieldChange::new(
            "priority",
            existing.priority.as_str(),
            scored.priority.as_str(),
        ));
    }
    lead.form_data = data;
    lead.score = scored.score;
    lead.priority = scored.priority;
    lead.score_breakdown = ScoreBreakdown::from(&scored);
    lead.config_hash = req.config_hash.clone();
    lead.scoring_version = product.version;
    lead.version += 1;
    lead.update_time = now;
    let events = vec![NewEvent::of(&lead, EventType::LeadUpdated, &diff, "", now)?];
    Ok((lead, events))
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a new lead is made of, besides the request and the product.
struct Fresh {
    form: Map<String, Value>,
    dup_key: Option<String>,
    window_start: Option<i64>,
    nonce: String,
    nonce_expire: i64,
    idem: Option<(String, String)>,
    now: DateTime<Utc>,
}
