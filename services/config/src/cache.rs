//! A small in-memory cache of product versions, so the hot public paths (render package,
//! version lookups by the lead service: one per submission) rarely touch the database.
//!
//! Stored versions are immutable, so `(code, version)` entries never go stale. The latest
//! version per code is replaced by updates made through this instance and, to bound
//! staleness when several instances share a database, expires after a TTL. A lookup that
//! raced an update can never put back an older version than the one cached.

use crate::domain::StoredProduct;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Most entries per map before it is emptied (a crude bound; products are few).
const MAX_ENTRIES: usize = 4_096;

#[derive(Default)]
struct Inner {
    latest: HashMap<String, (Arc<StoredProduct>, Instant)>,
    versions: HashMap<(String, i32), Arc<StoredProduct>>,
    hashes: HashMap<(String, String), i32>,
    /// Bumped by every update, so a hash lookup that raced one is not remembered.
    generation: u64,
}

/// The cache.
pub struct Cache {
    ttl: Duration,
    inner: RwLock<Inner>,
}

impl Cache {
    /// Creates a cache whose latest-version entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: RwLock::new(Inner::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest version of `code`, when cached and fresh.
    pub fn latest(&self, code: &str) -> Option<Arc<StoredProduct>> {
        let g = self.read();
        let (p, at) = g.latest.get(code)?;
        (at.elapsed() < self.ttl).then(|| p.clone())
    }

    /// Remembers `p` as the latest version of its product, unless a newer one is cached.
    pub fn put_latest(&self, p: Arc<StoredProduct>) {
        let mut g = self.write();
        if g.latest.len() >= MAX_ENTRIES {
            g.latest.clear();
        }
        let newer_cached = g
            .latest
            .get(&p.product_code)
            .is_some_and(|(c, _)| c.version > p.version);
        if !newer_cached {
            g.latest
                .insert(p.product_code.clone(), (p.clone(), Instant::now()));
        }
        drop(g);
        self.put_version(p);
    }

    /// Records a new version written by this instance: it becomes the latest, and hash
    /// lookups of its product are forgotten (the newest version with a hash wins).
    pub fn updated(&self, p: Arc<StoredProduct>) {
        {
            let mut g = self.write();
            g.generation += 1;
            g.hashes.retain(|(code, _), _| *code != p.product_code);
        }
        self.put_latest(p);
    }

    /// One version by number.
    pub fn version(&self, code: &str, version: i32) -> Option<Arc<StoredProduct>> {
        self.read()
            .versions
            .get(&(code.to_string(), version))
            .cloned()
    }

    /// Remembers an immutable version.
    pub fn put_version(&self, p: Arc<StoredProduct>) {
        let mut g = self.write();
        if g.versions.len() >= MAX_ENTRIES {
            g.versions.clear();
        }
        g.versions.insert((p.product_code.clone(), p.version), p);
    }

    /// The newest version with a hash, when known.
    pub fn by_hash(&self, code: &str, hash: &str) -> Option<Arc<StoredProduct>> {
        let g = self.read();
        let v = g.hashes.get(&(code.to_string(), hash.to_string()))?;
        g.versions.get(&(code.to_string(), *v)).cloned()
    }

    /// The update generation; read it before a hash lookup in the database.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Remembers the newest version with a hash, found when the update generation was
    /// `generation` (ignored when an update happened since).
    pub fn put_hash(&self, p: Arc<StoredProduct>, generation: u64) {
        {
            let mut g = self.write();
            if g.generation != generation {
                return;
            }
            if g.hashes.len() >= MAX_ENTRIES {
                g.hashes.clear();
            }
            g.hashes
                .insert((p.product_code.clone(), p.config_hash.clone()), p.version);
        }
        self.put_version(p);
    }
}
