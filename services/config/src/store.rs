//! All SQL of the config service, portable across PostgreSQL and SQLite through sqlx
//! `Any`: products (one row each, pointing at the latest version) and their immutable
//! versions. Content is stored as its canonical JSON text; parsing it is the service's job.

use lms_platform::db::Db;
use sqlx::Row;
use sqlx::any::AnyRow;

/// One stored version joined with its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    /// Product id.
    pub product_id: String,
    /// Product code.
    pub product_code: String,
    /// Version number.
    pub version: i64,
    /// Canonical JSON of the content.
    pub content: String,
    /// Config hash.
    pub config_hash: String,
    /// When the product was created (µs).
    pub product_created_at: i64,
    /// When this version was stored (µs).
    pub created_at: i64,
    /// Who stored it.
    pub updated_by: String,
}

/// A new version to store.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    /// Canonical JSON of the content.
    pub content: &'a str,
    /// Its hash.
    pub config_hash: &'a str,
    /// Now (µs).
    pub at: i64,
    /// Who stores it.
    pub updated_by: &'a str,
}

/// What an insert of a new product did.
#[derive(Debug)]
pub enum Created {
    /// Stored at version 1.
    Ok(VersionRow),
    /// The code is taken.
    Exists,
}

/// What an update did.
#[derive(Debug)]
pub enum Updated {
    /// Stored as the next version.
    Ok(VersionRow),
    /// No such product.
    NotFound,
    /// The expected version is not the current one.
    Conflict {
        /// The current version.
        current: i64,
    },
}

const SELECT: &str = "SELECT p.id, p.product_code, v.version, v.content, v.config_hash, \
     p.created_at AS product_created_at, v.created_at, v.updated_by \
     FROM products p JOIN product_versions v ON v.product_id = p.id";

/// The config service's database access.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

fn row(r: &AnyRow) -> Result<VersionRow, sqlx::Error> {
    Ok(VersionRow {
        product_id: r.try_get("id")?,
        product_code: r.try_get("product_code")?,
        version: r.try_get("version")?,
        content: r.try_get("content")?,
        config_hash: r.try_get("config_hash")?,
        product_created_at: r.try_get("product_created_at")?,
        created_at: r.try_get("created_at")?,
        updated_by: r.try_get("updated_by")?,
    })
}

impl Store {
    /// Wraps a database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a product with its first version, in one transaction.
    pub async fn create(
        &self,
        id: &str,
        code: &str,
        v: NewVersion<'_>,
    ) -> Result<Created, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO products (id, product_code, current_version, created_at) \
             VALUES ($1, $2, 1, $3)",
        )
        .bind(id)
        .bind(code)
        .bind(v.at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if Db::is_unique_violation(&e) => return Ok(Created::Exists),
            other => other?,
        };
        insert_version(&mut tx, id, 1, v).await?;
        tx.commit().await?;
        Ok(Created::Ok(VersionRow {
            product_id: id.to_string(),
            product_code: code.to_string(),
            version: 1,
            content: v.content.to_string(),
            config_hash: v.config_hash.to_string(),
            product_created_at: v.at,
            created_at: v.at,
            updated_by: v.updated_by.to_string(),
        }))
    }

    /// Stores the next version of a product, in one transaction. With `expected`, the
    /// current version must equal it (compare-and-set on the product row, so concurrent
    /// updates cannot both win).
    pub async fn update(
        &self,
        code: &str,
        expected: Option<i64>,
        v: NewVersion<'_>,
    ) -> Result<Updated, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let bumped = match expected {
            Some(e) => {
                sqlx::query(
                    "UPDATE products SET current_version = current_version + 1 \
                     WHERE product_code = $1 AND current_version = $2 \
                     RETURNING id, current_version, created_at",
                )
                .bind(code)
                .bind(e)
                .fetch_optional(&mut *tx)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE products SET current_version = current_version + 1 \
                     WHERE product_code = $1 RETURNING id, current_version, created_at",
                )
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let Some(bumped) = bumped else {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT current_version FROM products WHERE product_code = $1")
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Ok(match current {
                None => Updated::NotFound,
                Some(current) => Updated::Conflict { current },
            });
        };
        let id: String = bumped.try_get("id")?;
        let version: i64 = bumped.try_get("current_version")?;
        let product_created_at: i64 = bumped.try_get("created_at")?;
        insert_version(&mut tx, &id, version, v).await?;
        tx.commit().await?;
        Ok(Updated::Ok(VersionRow {
            product_id: id,
            product_code: code.to_string(),
            version,
            content: v.content.to_string(),
            config_hash: v.config_hash.to_string(),
            product_created_at,
            created_at: v.at,
            updated_by: v.updated_by.to_string(),
        }))
    }

    /// The latest version of a product.
    pub async fn latest(&self, code: &str) -> Result<Option<VersionRow>, sqlx::Error> {
        let sql = format!("{SELECT} AND v.version = p.current_version WHERE p.product_code = $1");
        let r = sqlx::query(&sql)
            .bind(code)
            .fetch_optional(&self.db.pool)
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// One version by number.
    pub async fn version(
        &self,
        code: &str,
        version: i64,
    ) -> Result<Option<VersionRow>, sqlx::Error> {
        let sql = format!("{SELECT} WHERE p.product_code = $1 AND v.version = $2");
        let r = sqlx::query(&sql)
            .bind(code)
            .bind(version)
            .fetch_optional(&self.db.pool)
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// The newest version with this config hash (identical content hashes alike, so
    /// several versions may share one).
    pub async fn version_by_hash(
        &self,
        code: &str,
        hash: &str,
    ) -> Result<Option<VersionRow>, sqlx::Error> {
        let sql = format!(
            "{SELECT} WHERE p.product_code = $1 AND v.config_hash = $2 \
             ORDER BY v.version DESC LIMIT 1"
        );
        let r = sqlx::query(&sql)
            .bind(code)
            .bind(hash)
            .fetch_optional(&self.db.pool)
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// True when the product exists.
    pub async fn exists(&self, code: &str) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE product_code = $1")
            .bind(code)
            .fetch_one(&self.db.pool)
            .await?;
        Ok(n > 0)
    }

    /// Latest versions of products ordered by code, after `after` (keyset paging).
    pub async fn list(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<VersionRow>, sqlx::Error> {
        let sql = format!(
            "{SELECT} AND v.version = p.current_version WHERE p.product_code > $1 \
             ORDER BY p.product_code LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(row).collect()
    }

    /// Number of products.
    pub async fn count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM products")
            .fetch_one(&self.db.pool)
            .await
    }
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    product_id: &str,
    version: i64,
    v: NewVersion<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO product_versions \
         (product_id, version, content, config_hash, created_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(product_id)
    .bind(version)
    .bind(v.content)
    .bind(v.config_hash)
    .bind(v.at)
    .bind(v.updated_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
