//! In-memory caches: compiled product versions (immutable, so kept until evicted by
//! size), the enabled agents for round-robin assignment (refreshed after a TTL, one
//! refresh at a time; on a uam failure the last list is kept), and blocks of reserved
//! counter values (lead numbers, round-robin slots), so a submission rarely pays a round
//! trip for them.

use crate::domain::product::ProductVersion;
use crate::error::LeadError;
use crate::peers::Peers;
use crate::store::{Counter, Store};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// Compiled product versions by (product code, config hash).
pub struct Catalog {
    map: RwLock<HashMap<(String, String), Arc<ProductVersion>>>,
    cap: usize,
}

impl Catalog {
    pub fn new(cap: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            cap: cap.max(1),
        }
    }

    /// The version, from memory or fetched and compiled once.
    pub async fn get(
        &self,
        peers: &Peers,
        code: &str,
        hash: &str,
    ) -> Result<Arc<ProductVersion>, LeadError> {
        let key = (code.to_string(), hash.to_string());
        if let Some(v) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(v.clone());
        }
        let v = Arc::new(peers.product_version(code, hash).await?);
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.cap {
            map.clear();
        }
        map.insert(key, v.clone());
        Ok(v)
    }
}

type AgentList = Arc<Vec<String>>;

/// The enabled agents, cached.
pub struct Agents {
    ttl: Duration,
    current: RwLock<Option<(Instant, AgentList)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl Agents {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<AgentList> {
        let cur = self.current.read().unwrap_or_else(|p| p.into_inner());
        cur.as_ref()
            .filter(|(at, _)| !self.ttl.is_zero() && at.elapsed() < self.ttl)
            .map(|(_, l)| l.clone())
    }

    /// The agents; empty when there are none or uam cannot tell (lead stays unassigned).
    pub async fn get(&self, peers: &Peers) -> AgentList {
        if let Some(l) = self.fresh() {
            return l;
        }
        let _one = self.refresh.lock().await;
        if let Some(l) = self.fresh() {
            return l;
        }
        let list = match peers.enabled_agents().await {
            Ok(ids) => Arc::new(ids),
            Err(e) => {
                tracing::warn!(error = %e, "agent list unavailable; keeping the last one");
                self.current
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default()
            }
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), list.clone()));
        list
    }
}

/// Values of a database counter, reserved `block` at a time. Values are unique; across
/// replicas (or after a restart) they are not gap-free nor strictly in time order.
pub struct Reserved {
    counter: Counter,
    block: i64,
    values: tokio::sync::Mutex<VecDeque<i64>>,
}

impl Reserved {
    pub fn new(counter: Counter, block: i64) -> Self {
        Self {
            counter,
            block: block.max(1),
            values: tokio::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// The next value, reserving a new block when the last one is used up.
    pub async fn next(&self, store: &Store) -> Result<i64, LeadError> {
        let mut values = self.values.lock().await;
        if values.is_empty() {
            values.extend(store.reserve(self.counter, self.block).await?);
        }
        values
            .pop_front()
            .ok_or_else(|| LeadError::Corrupt("counter reservation returned nothing".into()))
    }
}
