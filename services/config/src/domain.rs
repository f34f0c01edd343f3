//! Pure product-configuration rules: the content of a version in its REST/JSON shape, the
//! checks it must pass on save and its canonical hash. The signed form token's codec lives
//! in `lms-formtoken` (shared with the lead service, which verifies tokens itself) and is
//! re-exported here. Nothing here touches the database, the clock or the network; callers
//! pass "now" and keys in.
//!
//! # The JSON shape of a version's content
//!
//! This is the REST body of a product (besides the server-set fields `id`, `productCode`,
//! `version`, `configHash`, `createdAt`, `updatedAt`, `updatedBy`) and exactly what the
//! config hash covers. Keys are camelCase, enums are their bare names:
//!
//! ```json
//! {
//!   "name": "Home loan",
//!   "formSchema": {"type": "object", "properties": {"city": {"type": "string", "x-dictionary": "cities"}}},
//!   "dictionaries": {"cities": [{"value": "HN", "label": "Ha Noi"}]},
//!   "scoringRules": {
//!     "rules": [{"id": "r1", "field": "city", "operator": "EQUALS", "value": "HN", "points": 10, "reason": "capital"}],
//!     "priorityBands": [{"minScore": 50, "priority": "HIGH"}],
//!     "defaultPriority": "LOW"
//!   },
//!   "settings": {
//!     "captchaMode": "NONE",
//!     "captchaSiteKey": "",
//!     "allowedOrigins": ["https://example.com"],
//!     "duplicatePolicy": "ALLOW",
//!     "duplicateKeyFields": [],
//!     "duplicateWindowHours": 24
//!   },
//!   "styling": {}
//! }
//! ```
//!
//! * `scoringRules` is `lms_scoring::ScoringRules` in its serde shape (operators `EQUALS`,
//!   `NOT_EQUALS`, `IN`, `NOT_IN`, `CONTAINS`, `GT`, `GTE`, `LT`, `LTE`, `BETWEEN`, `EXISTS`,
//!   `MATCHES`; priorities `LOW`, `MEDIUM`, `HIGH`, `URGENT`).
//! * `captchaMode`: `NONE` (default), `PROOF_OF_WORK`, `TURNSTILE`, `RECAPTCHA`, `HCAPTCHA`.
//! * `duplicatePolicy`: `ALLOW` (default), `MERGE`, `SUPPRESS`; `duplicateWindowHours` is
//!   1..=8760, and 0 on input means 24.
//! * Every settings field is always present; absent `styling` is `{}`; absent
//!   `dictionaries` is `{}`.
//!
//! `configHash` = lowercase hex SHA-256 of the RFC 8785 (JCS) serialisation of that object.

pub mod hash;
pub mod schema;
pub mod validate;

use chrono::{DateTime, Utc};
use lms_scoring::ScoringRules;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use lms_formtoken::{FormKeys, SigningKey, TokenClaims, TokenError, VerifiedToken};
pub use validate::{ProductInput, validate_product, validate_product_code};

/// One `{value, label}` option of a dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionaryEntry {
    /// The stored value (what formData carries).
    pub value: String,
    /// The text shown to the visitor.
    pub label: String,
}

/// Named option lists, by name.
pub type Dictionaries = BTreeMap<String, Vec<DictionaryEntry>>;

/// Which captcha a form needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptchaMode {
    /// No captcha.
    #[default]
    None,
    /// The built-in proof-of-work challenge.
    ProofOfWork,
    /// Cloudflare Turnstile.
    Turnstile,
    /// Google reCAPTCHA.
    Recaptcha,
    /// hCaptcha.
    Hcaptcha,
}

impl CaptchaMode {
    /// True for the external providers, which need a site key.
    pub fn needs_site_key(self) -> bool {
        matches!(self, Self::Turnstile | Self::Recaptcha | Self::Hcaptcha)
    }
}

/// What a submission that duplicates an existing lead does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DuplicatePolicy {
    /// Every submission makes a lead.
    #[default]
    Allow,
    /// A duplicate is merged into the existing lead.
    Merge,
    /// A duplicate is answered but not stored.
    Suppress,
}

/// The duplicate window used when none is given.
pub const DEFAULT_DUPLICATE_WINDOW_HOURS: i32 = 24;

/// A product's settings. Public: captcha mode and site key; the rest is private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductSettings {
    /// The captcha the form needs.
    pub captcha_mode: CaptchaMode,
    /// Site key of an external captcha provider ("" for none).
    pub captcha_site_key: String,
    /// Origins allowed to embed and submit the form (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// Duplicate handling.
    pub duplicate_policy: DuplicatePolicy,
    /// formData keys that identify a duplicate.
    pub duplicate_key_fields: Vec<String>,
    /// Duplicates are looked for within this many hours.
    pub duplicate_window_hours: i32,
}

impl Default for ProductSettings {
    fn default() -> Self {
        Self {
            captcha_mode: CaptchaMode::None,
            captcha_site_key: String::new(),
            allowed_origins: Vec::new(),
            duplicate_policy: DuplicatePolicy::Allow,
            duplicate_key_fields: Vec::new(),
            duplicate_window_hours: DEFAULT_DUPLICATE_WINDOW_HOURS,
        }
    }
}

/// The content of one configuration version: what the config hash covers (see the
/// module documentation for the JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductContent {
    /// Display name.
    pub name: String,
    /// The form's JSON Schema (an object with `type: "object"` and `properties`).
    pub form_schema: Value,
    /// Option lists for drop-downs.
    pub dictionaries: Dictionaries,
    /// Scoring rules (private).
    pub scoring_rules: ScoringRules,
    /// Settings.
    pub settings: ProductSettings,
    /// Free-form styling hints (a JSON object).
    pub styling: Value,
}

/// One stored, immutable version of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProduct {
    /// Product id (UUID), stable across versions.
    pub id: String,
    /// The product code.
    pub product_code: String,
    /// Version number, from 1.
    pub version: i32,
    /// Lowercase hex SHA-256 of the canonical content.
    pub config_hash: String,
    /// The content.
    pub content: ProductContent,
    /// When the product was created.
    pub created_at: DateTime<Utc>,
    /// When this version was stored.
    pub updated_at: DateTime<Utc>,
    /// Who stored this version (user id, or `service`).
    pub updated_by: String,
}

/// Captcha information for the form SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptchaInfo {
    /// Whether the form must carry a captcha response.
    pub enabled: bool,
    /// The mode.
    pub mode: CaptchaMode,
    /// Site key for an external provider.
    pub site_key: String,
}

/// The public render package: everything the SDK needs, nothing private. It is built
/// field by field from a version so that scoring rules, allowed origins and duplicate
/// settings cannot leak into it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderPackage {
    /// The product code.
    pub product_code: String,
    /// Version number.
    pub version: i32,
    /// Configuration hash.
    pub config_hash: String,
    /// The form's JSON Schema.
    pub form_schema: Value,
    /// Option lists.
    pub dictionaries: Dictionaries,
    /// Styling hints.
    pub styling: Value,
    /// Captcha settings.
    pub captcha: CaptchaInfo,
    /// The signed form token.
    pub signature: String,
    /// When the token expires.
    pub signature_expires_at: DateTime<Utc>,
}

impl RenderPackage {
    /// Builds the package of `product` with a freshly issued `signature`.
    pub fn of(product: &StoredProduct, signature: String, expires_at: DateTime<Utc>) -> Self {
        let settings = &product.content.settings;
        Self {
            product_code: product.product_code.clone(),
            version: product.version,
            config_hash: product.config_hash.clone(),
            form_schema: product.content.form_schema.clone(),
            dictionaries: product.content.dictionaries.clone(),
            styling: product.content.styling.clone(),
            captcha: CaptchaInfo {
                enabled: settings.captcha_mode != CaptchaMode::None,
                mode: settings.captcha_mode,
                site_key: settings.captcha_site_key.clone(),
            },
            signature,
            signature_expires_at: expires_at,
        }
    }
}
