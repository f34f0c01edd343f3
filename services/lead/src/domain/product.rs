//! What a submission needs from one immutable product configuration version: the form
//! checker, the compiled scoring rules, the captcha mode, the allowed origins and the
//! duplicate policy.

use super::form::FormSpec;
use lms_scoring::CompiledRules;

/// What a duplicate submission does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicatePolicy {
    /// Every submission makes a lead.
    Allow,
    /// A duplicate is merged into the existing lead.
    Merge,
    /// A duplicate is answered with the existing lead and not stored.
    Suppress,
}

/// One product version, compiled.
#[derive(Debug)]
pub struct ProductVersion {
    /// Product code.
    pub product_code: String,
    /// Version number.
    pub version: i32,
    /// Config hash.
    pub config_hash: String,
    /// The form checker.
    pub form: FormSpec,
    /// The scoring rules.
    pub rules: CompiledRules,
    /// True when the product needs no captcha (the only mode verified so far).
    pub captcha_none: bool,
    /// Origins whose pages may submit the form; empty: any.
    pub allowed_origins: Vec<String>,
    /// Duplicate policy.
    pub duplicate_policy: DuplicatePolicy,
    /// Fields whose values identify a duplicate.
    pub duplicate_key_fields: Vec<String>,
    /// Window in which duplicates are looked for, in hours.
    pub duplicate_window_hours: i64,
}

impl ProductVersion {
    /// Whether a submission from a page of `origin` (the browser's `Origin` header; absent
    /// for server-to-server calls, which no header can restrict) is allowed.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        lms_platform::auth::origin_allowed(&self.allowed_origins, origin)
    }
}
