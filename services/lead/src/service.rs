//! The lead service's business logic: submission, queries, updates, history and the event
//! stream. It speaks domain types only (no proto, no `tonic::Status`); the `grpc` module
//! converts at the edge. Caches of immutable things (compiled product versions) and of
//! slowly changing things (the enabled agents, the form-token verification keys) live
//! here.

mod cache;
mod events;
mod query;
mod submit;
mod tokens;
mod update;

pub use events::{EventHub, run_janitor};
pub use query::{HistoryPage, ListRequest, ListedPage};
pub use submit::SubmitRequest;

use crate::config::Config;
use crate::peers::Peers;
use crate::store::Store;
use lms_platform::clock::SharedClock;
use std::sync::Arc;

/// The lead service.
pub struct LeadService {
    store: Store,
    peers: Peers,
    clock: SharedClock,
    cfg: Config,
    catalog: cache::Catalog,
    form_keys: tokens::FormKeyCache,
    agents: cache::Agents,
    uids: cache::Reserved,
    slots: cache::Reserved,
    hub: Arc<EventHub>,
}

impl LeadService {
    /// Creates the service.
    pub fn new(store: Store, peers: Peers, clock: SharedClock, cfg: Config) -> Self {
        let catalog = cache::Catalog::new(cfg.product_cache_entries);
        let agents = cache::Agents::new(std::time::Duration::from_secs(cfg.agent_cache_seconds));
        let hub = Arc::new(EventHub::new(std::time::Duration::from_millis(
            cfg.event_poll_ms.max(10),
        )));
        let form_keys = tokens::FormKeyCache::new(
            std::time::Duration::from_millis(cfg.form_keys_refetch_ms),
            std::time::Duration::from_secs(cfg.form_keys_max_age_secs),
        );
        let block = i64::from(cfg.counter_block);
        Self {
            store,
            peers,
            clock,
            cfg,
            catalog,
            form_keys,
            agents,
            uids: cache::Reserved::new(crate::store::Counter::LeadUid, block),
            slots: cache::Reserved::new(crate::store::Counter::Assignment, block),
            hub,
        }
    }

    /// The event hub (sequencer wake-ups and follower notifications).
    pub fn hub(&self) -> Arc<EventHub> {
        self.hub.clone()
    }

    /// Now, at the microsecond precision instants are stored with.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use lms_platform::db::{from_micros, to_micros};
        from_micros(to_micros(self.clock.now()))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
