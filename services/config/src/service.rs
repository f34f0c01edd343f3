//! Business logic of the config service: products and their immutable versions, the
//! public render package with its signed form token, and token verification. No proto
//! types and no `tonic::Status` here: the `grpc` module converts at the edge.

use crate::cache::Cache;
use crate::domain::hash::{canonical, is_config_hash};
use crate::domain::{
    FormKeys, ProductContent, ProductInput, RenderPackage, StoredProduct, VerifiedToken,
    validate_product, validate_product_code,
};
use crate::error::ConfigError;
use crate::store::{Created, NewVersion, Store, Updated, VersionRow};
use lms_platform::clock::SharedClock;
use lms_platform::db::{from_micros, to_micros};
use lms_platform::{ApiError, Violation};
use rand::RngCore;
use std::sync::Arc;

/// Which stored version to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSelector {
    /// By number, from 1.
    Number(i32),
    /// By config hash (the newest version with it).
    Hash(String),
}

/// One page of products.
#[derive(Debug, Clone)]
pub struct ProductPage {
    /// Latest versions, ordered by code.
    pub products: Vec<Arc<StoredProduct>>,
    /// The code to continue after, when more may follow.
    pub next_after: Option<String>,
    /// Number of products.
    pub total: i64,
}

/// The product catalogue.
pub struct Products {
    store: Store,
    cache: Cache,
    keys: FormKeys,
    clock: SharedClock,
    token_ttl_secs: i64,
}

impl Products {
    /// Creates the catalogue.
    pub fn new(
        store: Store,
        cache: Cache,
        keys: FormKeys,
        clock: SharedClock,
        token_ttl_secs: i64,
    ) -> Self {
        Self {
            store,
            cache,
            keys,
            clock,
            token_ttl_secs,
        }
    }

    /// Creates a product at version 1.
    #[tracing::instrument(skip_all, fields(product_code = %input.product_code))]
    pub async fn create(
        &self,
        input: ProductInput,
        actor: &str,
    ) -> Result<Arc<StoredProduct>, ConfigError> {
        let (code, content) = validate_product(input).map_err(ConfigError::Invalid)?;
        let c = canonical(&content).map_err(ConfigError::Serialise)?;
        let id = uuid::Uuid::new_v4().to_string();
        let v = NewVersion {
            content: &c.json,
            config_hash: &c.hash,
            at: to_micros(self.clock.now()),
            updated_by: actor,
        };
        match self.store.create(&id, &code, v).await? {
            Created::Exists => Err(ConfigError::ProductExists(code)),
            Created::Ok(row) => {
                let p = Arc::new(stored(row, content));
                self.cache.updated(p.clone());
                tracing::info!(version = 1, config_hash = %p.config_hash, "product created");
                Ok(p)
            }
        }
    }

    /// Stores a new version of a product; with `expected` (non-zero), the current version
    /// must equal it.
    #[tracing::instrument(skip_all, fields(product_code = %input.product_code))]
    pub async fn update(
        &self,
        input: ProductInput,
        expected: Option<i32>,
        actor: &str,
    ) -> Result<Arc<StoredProduct>, ConfigError> {
        let (code, content) = validate_product(input).map_err(ConfigError::Invalid)?;
        let c = canonical(&content).map_err(ConfigError::Serialise)?;
        let v = NewVersion {
            content: &c.json,
            config_hash: &c.hash,
            at: to_micros(self.clock.now()),
            updated_by: actor,
        };
        match self.store.update(&code, expected.map(i64::from), v).await? {
            Updated::NotFound => Err(ConfigError::ProductNotFound(code)),
            Updated::Conflict { current } => Err(ConfigError::VersionConflict {
                expected: expected.unwrap_or_default(),
                current,
            }),
            Updated::Ok(row) => {
                let p = Arc::new(stored(row, content));
                self.cache.updated(p.clone());
                tracing::info!(version = p.version, config_hash = %p.config_hash, "product updated");
                Ok(p)
            }
        }
    }

    /// The latest version of a product.
    #[tracing::instrument(skip_all, fields(product_code = %code))]
    pub async fn get(&self, code: &str) -> Result<Arc<StoredProduct>, ConfigError> {
        if let Some(p) = self.cache.latest(code) {
            return Ok(p);
        }
        if validate_product_code(code).is_some() {
            return Err(ConfigError::ProductNotFound(code.to_string()));
        }
        let row = self
            .store
            .latest(code)
            .await?
            .ok_or_else(|| ConfigError::ProductNotFound(code.to_string()))?;
        let p = Arc::new(parse(row)?);
        self.cache.put_latest(p.clone());
        Ok(p)
    }

    /// A page of products (latest versions) ordered by code, after `after`.
    #[tracing::instrument(skip_all)]
    pub async fn list(&self, after: Option<&str>, limit: i64) -> Result<ProductPage, ConfigError> {
        let mut rows = self.store.list(after, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or_default());
        let total = self.store.count().await?;
        let products = rows
            .into_iter()
            .map(|r| parse(r).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let next_after = more
            .then(|| products.last().map(|p| p.product_code.clone()))
            .flatten();
        Ok(ProductPage {
            products,
            next_after,
            total,
        })
    }

    /// One stored version, by number or hash.
    #[tracing::instrument(skip_all, fields(product_code = %code))]
    pub async fn version(
        &self,
        code: &str,
        selector: &VersionSelector,
    ) -> Result<Arc<StoredProduct>, ConfigError> {
        let found = match selector {
            VersionSelector::Number(n) => {
                if let Some(p) = self.cache.version(code, *n) {
                    return Ok(p);
                }
                match self.store.version(code, i64::from(*n)).await? {
                    Some(row) => {
                        let p = Arc::new(parse(row)?);
                        self.cache.put_version(p.clone());
                        Some(p)
                    }
                    None => None,
                }
            }
            VersionSelector::Hash(h) => {
                if let Some(p) = self.cache.by_hash(code, h) {
                    return Ok(p);
                }
                let generation = self.cache.generation();
                match self.store.version_by_hash(code, h).await? {
                    Some(row) => {
                        let p = Arc::new(parse(row)?);
                        self.cache.put_hash(p.clone(), generation);
                        Some(p)
                    }
                    None => None,
                }
            }
        };
        match found {
            Some(p) => Ok(p),
            None if self.store.exists(code).await? => {
                Err(ConfigError::VersionNotFound(code.to_string()))
            }
            None => Err(ConfigError::ProductNotFound(code.to_string())),
        }
    }

    /// The public render package of the latest version, with a fresh form token, for a page
    /// of `origin` (the browser's `Origin` header; absent for server-side fetches, which no
    /// header can restrict). Refused when the product lists its allowed origins and this
    /// is not one of them.
    #[tracing::instrument(skip_all, fields(product_code = %code))]
    pub async fn render_package(
        &self,
        code: &str,
        origin: Option<&str>,
    ) -> Result<RenderPackage, ConfigError> {
        let p = self.get(code).await?;
        if !lms_platform::auth::origin_allowed(&p.content.settings.allowed_origins, origin) {
            return Err(ConfigError::OriginNotAllowed(code.to_string()));
        }
        let now = self.clock.now();
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let claims = FormKeys::claims(&p.product_code, p.version, &p.config_hash, now, nonce);
        let token = self.keys.sign(&claims);
        // The token counts whole seconds; announce exactly the instant it stops verifying.
        let expires_at =
            chrono::DateTime::from_timestamp(claims.iat + self.token_ttl_secs, 0).unwrap_or(now);
        Ok(RenderPackage::of(&p, token, expires_at))
    }

    /// Verifies a form token at the clock's now.
    #[tracing::instrument(skip_all)]
    pub fn verify_token(&self, token: &str) -> Result<VerifiedToken, ConfigError> {
        let v = self
            .keys
            .verify(token, self.clock.now(), self.token_ttl_secs)
            .inspect_err(|e| tracing::info!(reason = %e, "form token refused"))?;
        Ok(v)
    }
}

/// What a mesh service needs to verify form tokens itself: every key that verifies (the
/// signing key first) and the token lifetime.
#[derive(Debug, Clone)]
pub struct VerificationKeys {
    /// The key ring (secret).
    pub keys: FormKeys,
    /// Token lifetime, seconds.
    pub token_ttl_secs: i64,
}

impl Products {
    /// The verification keys and token lifetime (for mesh services only: the keys are
    /// secret; the permission table enforces it).
    #[tracing::instrument(skip_all)]
    pub fn verification_keys(&self) -> VerificationKeys {
        tracing::debug!(
            keys = self.keys.keys().len(),
            "form verification keys handed out"
        );
        VerificationKeys {
            keys: self.keys.clone(),
            token_ttl_secs: self.token_ttl_secs,
        }
    }
}

/// Checks a `config_hash` selector's shape.
pub fn check_hash_selector(hash: &str) -> Result<(), ApiError> {
    if is_config_hash(hash) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "INVALID_ARGUMENT",
            "configHash must be 64 lowercase hex characters",
            vec![Violation::new(
                "configHash",
                "must be 64 lowercase hex characters",
            )],
        ))
    }
}

fn stored(row: VersionRow, content: ProductContent) -> StoredProduct {
    StoredProduct {
        id: row.product_id,
        product_code: row.product_code,
        version: i32::try_from(row.version).unwrap_or(i32::MAX),
        config_hash: row.config_hash,
        content,
        created_at: from_micros(row.product_created_at),
        updated_at: from_micros(row.created_at),
        updated_by: row.updated_by,
    }
}

fn parse(row: VersionRow) -> Result<StoredProduct, ConfigError> {
    let content: ProductContent =
        serde_json::from_str(&row.content).map_err(|source| ConfigError::Corrupt {
            code: row.product_code.clone(),
            version: row.version,
            source,
        })?;
    Ok(stored(row, content))
}
