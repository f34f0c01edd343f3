//! JSON request bodies: the content type must be JSON (else 415), the size is checked
//! before and while reading (413, nothing buffered past the limit), the text must parse
//! (400 MALFORMED_JSON with line and column) and be an object; [`Fields`] then reads
//! typed fields and names every wrong or unknown one (400 INVALID_ARGUMENT listing them all).

use crate::error::RestError;
use crate::rest::AppState;
use axum::extract::{FromRequest, Request};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use lms_platform::error::Violation;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A required JSON object body.
pub struct JsonBody(pub Map<String, Value>);

/// An optional JSON object body: an empty body without a content type is `None`.
pub struct OptJsonBody(pub Option<Map<String, Value>>);

impl FromRequest<AppState> for JsonBody {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, RestError> {
        match read(req, state.max_body_bytes, false).await? {
            Some(m) => Ok(Self(m)),
            None => Err(RestError::malformed_json("a JSON object body is required")),
        }
    }
}

impl FromRequest<AppState> for OptJsonBody {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, RestError> {
        read(req, state.max_body_bytes, true).await.map(Self)
    }
}

/// True for `application/json` and `application/*+json`, with any parameters.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read(
    req: Request,
    limit: usize,
    optional: bool,
) -> Result<Option<Map<String, Value>>, RestError> {
    let headers = req.headers();
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    let declared_len = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > limit as u64) {
        return Err(RestError::too_large(limit));
    }
    match content_type.as_deref() {
        Some(ct) if !is_json(ct) => return Err(RestError::unsupported_media_type()),
        None if optional && declared_len == Some(0) => return Ok(None),
        _ => {}
    }
    let bytes = match Limited::new(req.into_body(), limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(RestError::too_large(limit)),
        Err(_) => {
            return Err(RestError::malformed_json(
                "the request body could not be read",
            ));
        }
    };
    if bytes.is_empty() && optional && content_type.is_none() {
        return Ok(None);
    }
    if content_type.is_none() {
        return Err(RestError::unsupported_media_type());
    }
    if bytes.is_empty() && optional {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(other) => Err(RestError::field(
            "$",
            format!("the body must be a JSON object, got {}", kind(&other)),
        )),
        Err(e) => Err(RestError::malformed_json(format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))),
    }
}

/// The JSON type name of a value, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Joins a field path: `join("updates", "status")` is `updates.status`.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Reads the fields of one JSON object, collecting violations with full paths; keys never
/// read are reported as unknown by [`Fields::finish`].
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
    used: BTreeSet<String>,
    violations: Vec<Violation>,
}

impl Fields {
    /// Reads `map`, whose path in the body is `prefix` (empty at the top).
    pub fn new(map: Map<String, Value>, prefix: &str) -> Self {
        Self {
            map,
            prefix: prefix.to_string(),
            used: BTreeSet::new(),
            violations: Vec::new(),
        }
    }

    /// The path of `key`.
    pub fn path(&self, key: &str) -> String {
        join(&self.prefix, key)
    }

    /// Records a violation at `field` (a full path).
    pub fn fail(&mut self, field: String, description: impl Into<String>) {
        self.violations.push(Violation::new(field, description));
    }

    /// The raw value without marking it read.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// True when the key is present (even as `null`).
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw value, `None` when absent or `null`.
    pub fn value(&mut self, key: &str) -> Option<Value> {
        self.used.insert(key.to_string());
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
        }
    }

    fn typed<T>(
        &mut self,
        key: &str,
        want: &str,
        get: impl FnOnce(&Value) -> Option<T>,
    ) -> Option<T> {
        let v = self.value(key)?;
        let got = get(&v);
        if got.is_none() {
            let path = self.path(key);
            self.fail(path, format!("must be {want}, got {}", kind(&v)));
        }
        got
    }

    /// A string field.
    pub fn string(&mut self, key: &str) -> Option<String> {
        self.typed(key, "a string", |v| v.as_str().map(str::to_string))
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &str) -> Option<bool> {
        self.typed(key, "a boolean", Value::as_bool)
    }

    /// An integer field (in the `i32` range).
    pub fn i32(&mut self, key: &str) -> Option<i32> {
        self.typed(key, "an integer", |v| {
            v.as_i64().and_then(|n| i32::try_from(n).ok())
        })
    }

    /// An object field.
    pub fn object(&mut self, key: &str) -> Option<Map<String, Value>> {
        self.typed(key, "an object", |v| v.as_object().cloned())
    }

    /// An array of strings, naming a bad element by index.
    pub fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        let items = self.typed(key, "an array", |v| v.as_array().cloned())?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) => out.push(s.to_string()),
                None => {
                    let path = format!("{}[{i}]", self.path(key));
                    self.fail(path, format!("must be a string, got {}", kind(item)));
                }
            }
        }
        Some(out)
    }

    /// A string field holding one of an enum's wire names; `parse` maps a name to the
    /// proto value, `expected` lists the names for the message.
    pub fn enumeration(
        &mut self,
        key: &str,
        parse: fn(&str) -> Option<i32>,
        expected: &str,
    ) -> Option<i32> {
        let s = self.string(key)?;
        let v = parse(&s);
        if v.is_none() {
            let path = self.path(key);
            self.fail(
                path,
                format!("unknown value {s:?}; expected one of {expected}"),
            );
        }
        v
    }

    /// Takes the violations of a nested reader (after reporting its unknown keys).
    pub fn absorb(&mut self, nested: Fields) {
        let v = nested.into_violations();
        self.violations.extend(v);
    }

    /// Adds violations found elsewhere.
    pub fn extend(&mut self, violations: Vec<Violation>) {
        self.violations.extend(violations);
    }

    /// All violations, unknown keys included.
    pub fn into_violations(mut self) -> Vec<Violation> {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(*k))
            .cloned()
            .collect();
        for k in unknown {
            let path = self.path(&k);
            self.fail(path, "unknown field");
        }
        self.violations
    }

    /// Ends reading: 400 INVALID_ARGUMENT listing every violation, if any.
    pub fn finish(self) -> Result<(), RestError> {
        check(self.into_violations())
    }
}

/// 400 INVALID_ARGUMENT listing `violations`, or `Ok` when there are none.
pub fn check(violations: Vec<Violation>) -> Result<(), RestError> {
    match violations.first() {
        None => Ok(()),
        Some(first) => {
            let more = match violations.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            let message = format!("{}: {}{more}", first.field, first.description);
            Err(RestError::invalid("INVALID_ARGUMENT", message, violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        Fields::new(v.as_object().cloned().unwrap_or_default(), "updates")
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_all_named() {
        let mut f = fields(json!({"a": 1, "b": "x", "c": [1, "y"], "zz": true}));
        assert_eq!(f.string("a"), None);
        assert_eq!(f.i32("b"), None);
        assert_eq!(f.strings("c"), Some(vec!["y".to_string()]));
        let fields: Vec<String> = f.into_violations().into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            vec!["updates.a", "updates.b", "updates.c[0]", "updates.zz"]
        );
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
