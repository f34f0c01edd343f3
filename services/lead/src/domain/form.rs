//! A submitted form against one configuration version: size limits, trimming, the JSON
//! Schema (compiled once per version), unknown top-level fields, dictionary values,
//! control characters, and normalisation (e-mail lower-cased, phone to E.164). Every
//! violation is collected, with paths like `formData.address.city` or `formData.tags[1]`.

use crate::config::SubmissionLimits;
use lms_platform::error::Violation;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The root of every violation path.
pub const ROOT: &str = "formData";

/// How a string property is normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Format {
    Plain,
    /// `"format": "email"`: lower-cased.
    Email,
    /// `"format": "phone"` or `"x-format": "phone"`: E.164; `x-phone-region` (ISO 3166
    /// alpha-2) lets national numbers parse.
    Phone(Option<phonenumber::country::Id>),
}

/// What the schema says about one property, as far as our own checks go.
#[derive(Debug, Clone)]
struct Node {
    format: Format,
    dictionary: Option<String>,
    properties: BTreeMap<String, Node>,
    items: Option<Box<Node>>,
}

impl Node {
    fn of(schema: &Value) -> Self {
        let s = |k: &str| schema.get(k).and_then(Value::as_str);
        let format = if s("format") == Some("email") {
            Format::Email
        } else if s("format") == Some("phone") || s("x-format") == Some("phone") {
            Format::Phone(s("x-phone-region").and_then(|r| r.to_ascii_uppercase().parse().ok()))
        } else {
            Format::Plain
        };
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.iter().map(|(k, v)| (k.clone(), Node::of(v))).collect())
            .unwrap_or_default();
        let items = schema
            .get("items")
            .filter(|i| i.is_object())
            .map(|i| Box::new(Node::of(i)));
        Self {
            format,
            dictionary: s("x-dictionary").map(str::to_string),
            properties,
            items,
        }
    }
}

/// A version's form checker, built once and shared.
pub struct FormSpec {
    validator: jsonschema::Validator,
    root: Node,
    dictionaries: HashMap<String, HashSet<String>>,
}

impl std::fmt::Debug for FormSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormSpec")
            .field("fields", &self.root.properties.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl FormSpec {
    /// Compiles a version's schema; `dictionaries` maps a name to its allowed values.
    pub fn compile(
        schema: &Value,
        dictionaries: HashMap<String, HashSet<String>>,
    ) -> Result<Self, String> {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            validator,
            root: Node::of(schema),
            dictionaries,
        })
    }

    /// Checks trimmed `form` and returns it normalised, or every violation.
    pub fn check(&self, form: Map<String, Value>) -> Result<Map<String, Value>, Vec<Violation>> {
        let mut form = Value::Object(form);
        let mut out = Vec::new();
        for err in self.validator.iter_errors(&form) {
            out.extend(schema_violations(&form, &err));
        }
        if let Value::Object(map) = &mut form {
            for (key, value) in map.iter_mut() {
                let path = format!("{ROOT}.{key}");
                match self.root.properties.get(key) {
                    Some(node) => self.walk(node, value, &path, &mut out),
                    None => out.push(Violation::new(path, "unknown field")),
                }
            }
        }
        if !out.is_empty() {
            return Err(merge_by_field(out));
        }
        match form {
            Value::Object(m) => Ok(m),
            _ => Ok(Map::new()),
        }
    }

    /// Dictionary membership, control characters and normalisation below one property.
    fn walk(&self, node: &Node, value: &mut Value, path: &str, out: &mut Vec<Violation>) {
        match value {
            Value::String(s) => {
                if s.contains('\0') {
                    out.push(Violation::new(path, "must not contain NUL characters"));
                    return;
                }
                self.check_dictionary(node, &Value::String(s.clone()), path, out);
                match &node.format {
                    Format::Plain => {}
                    Format::Email => {
                        if s.chars().any(char::is_control) {
                            out.push(Violation::new(path, "must not contain control characters"));
                        } else {
                            *s = s.to_lowercase();
                        }
                    }
                    Format::Phone(region) => match to_e164(s, *region) {
                        Some(e164) => *s = e164,
                        None if s.is_empty() => {}
                        None => out.push(Violation::new(path, "is not a valid phone number")),
                    },
                }
            }
            Value::Number(_) | Value::Bool(_) => self.check_dictionary(node, value, path, out),
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let p = format!("{path}[{i}]");
                    match &node.items {
                        Some(inner) => self.walk(inner, item, &p, out),
                        // `x-dictionary` on an array property constrains its elements.
                        None => self.walk_leaf_of(node, item, &p, out),
                    }
                }
            }
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if let Some(child) = node.properties.get(key) {
                        self.walk(child, v, &format!("{path}.{key}"), out);
                    } else if let Value::String(s) = v
                        && s.contains('\0')
                    {
                        out.push(Violation::new(
                            format!("{path}.{key}"),
                            "must not contain NUL characters",
                        ));
                    }
                }
            }
            Value::Null => {}
        }
    }

    fn walk_leaf_of(&self, node: &Node, item: &mut Value, path: &str, out: &mut Vec<Violation>) {
        let leaf = Node {
            format: node.format.clone(),
            dictionary: node.dictionary.clone(),
            properties: BTreeMap::new(),
            items: None,
        };
        self.walk(&leaf, item, path, out);
    }

    fn check_dictionary(&self, node: &Node, value: &Value, path: &str, out: &mut Vec<Violation>) {
        let Some(name) = &node.dictionary else {
            return;
        };
        let text = match value {
            Value::String(s) if s.is_empty() => return,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return,
        };
        let ok = self
            .dictionaries
            .get(name)
            .is_some_and(|values| values.contains(&text));
        if !ok {
            out.push(Violation::new(
                path,
                format!("must be one of the values of dictionary \"{name}\""),
            ));
        }
    }
}

/// One violation per field (descriptions joined), sorted by field.
fn merge_by_field(mut v: Vec<Violation>) -> Vec<Violation> {
    v.sort_by(|a, b| a.field.cmp(&b.field));
    let mut out: Vec<Violation> = Vec::with_capacity(v.len());
    for x in v {
        match out.last_mut() {
            Some(last) if last.field == x.field => {
                if !last.description.contains(&x.description) {
                    last.description.push_str("; ");
                    last.description.push_str(&x.description);
                }
            }
            _ => out.push(x),
        }
    }
    out
}

/// The violations of one JSON Schema error, with our paths. A missing required property
/// is reported at the property's own path.
fn schema_violations(form: &Value, err: &jsonschema::ValidationError<'_>) -> Vec<Violation> {
    let base = path_of(form, err.instance_path.as_str());
    let description = err.masked_with("value").to_string();
    match &err.kind {
        jsonschema::error::ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            vec![Violation::new(format!("{base}.{name}"), "is required")]
        }
        jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|u| Violation::new(format!("{base}.{u}"), "unknown field"))
            .collect(),
        _ => vec![Violation::new(base, description)],
    }
}

/// `formData.a.b[0]` for the JSON pointer `/a/b/0` into `form`.
fn path_of(form: &Value, pointer: &str) -> String {
    let mut path = ROOT.to_string();
    let mut cur = Some(form);
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        match cur {
            Some(Value::Array(items)) => {
                path.push_str(&format!("[{seg}]"));
                cur = seg.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            Some(Value::Object(map)) => {
                path.push('.');
                path.push_str(&seg);
                cur = map.get(&seg);
            }
            _ => {
                path.push('.');
                path.push_str(&seg);
                cur = None;
            }
        }
    }
    path
}

/// E.164 form of a phone number, or `None` when it is not a valid number.
pub fn to_e164(s: &str, region: Option<phonenumber::country::Id>) -> Option<String> {
    let n = phonenumber::parse(region, s).ok()?;
    if !phonenumber::is_valid(&n) {
        return None;
    }
    Some(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// Size checks done before anything else: field count, string lengths, nesting depth.
pub fn check_limits(form: &Map<String, Value>, limits: &SubmissionLimits) -> Vec<Violation> {
    let mut out = Vec::new();
    if form.len() > limits.max_fields {
        out.push(Violation::new(
            ROOT,
            format!(
                "has {} fields; at most {} are allowed",
                form.len(),
                limits.max_fields
            ),
        ));
        return out;
    }
    for (k, v) in form {
        limits_of(v, &format!("{ROOT}.{k}"), 1, limits, &mut out);
        if out.len() >= 20 {
            break;
        }
    }
    out
}

fn limits_of(
    v: &Value,
    path: &str,
    depth: usize,
    limits: &SubmissionLimits,
    out: &mut Vec<Violation>,
) {
    match v {
        // Bytes bound chars from above: count chars only when it can matter.
        Value::String(s)
            if s.len() > limits.max_string_chars && s.chars().count() > limits.max_string_chars =>
        {
            out.push(Violation::new(
                path,
                format!("is longer than {} characters", limits.max_string_chars),
            ));
        }
        Value::Array(items) if depth >= limits.max_depth && !items.is_empty() => {
            out.push(Violation::new(path, "is nested too deeply"));
        }
        Value::Object(map) if depth >= limits.max_depth && !map.is_empty() => {
            out.push(Violation::new(path, "is nested too deeply"));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                limits_of(item, &format!("{path}[{i}]"), depth + 1, limits, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                limits_of(item, &format!("{path}.{k}"), depth + 1, limits, out);
            }
        }
        _ => {}
    }
}

/// Trims every string, at any depth.
pub fn trim_strings(v: &mut Value) {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.len() != s.len() {
                *s = t.to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(trim_strings),
        Value::Object(map) => map.values_mut().for_each(trim_strings),
        _ => {}
    }
}

/// The duplicate key of a normalised form: SHA-256 over the named fields' values (text
/// lower-cased), or `None` when no key field is present.
pub fn duplicate_key(form: &Map<String, Value>, fields: &[String]) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    let mut any = false;
    for f in fields {
        let text = match form.get(f) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.to_lowercase(),
            Some(other) => other.to_string(),
        };
        any |= !text.is_empty();
        h.update(f.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    any.then(|| hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> FormSpec {
        let schema = json!({
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "phone": {"type": "string", "format": "phone", "x-phone-region": "IN"},
                "visits": {"type": "integer", "minimum": 0},
                "source": {"type": "string", "x-dictionary": "sources"},
                "address": {"type": "object", "properties": {"city": {"type": "string", "minLength": 2}}},
                "tags": {"type": "array", "items": {"type": "string", "x-dictionary": "sources"}}
            },
            "required": ["email"]
        });
        let mut d = HashMap::new();
        d.insert(
            "sources".to_string(),
            ["Google", "Olark Chat"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        FormSpec::compile(&schema, d).unwrap_or_else(|e| panic!("{e}"))
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn normalises_email_and_phone() {
        let out = spec()
            .check(obj(
                json!({"email": "A.B@Example.COM", "phone": "098765 43210", "source": "Google"}),
            ))
            .unwrap_or_else(|v| panic!("{v:?}"));
        assert_eq!(out["email"], json!("a.b@example.com"));
        assert_eq!(out["phone"], json!("+919876543210"));
    }

    #[test]
    fn collects_every_violation_with_paths() {
        let err = spec()
            .check(obj(json!({
                "visits": "many", "source": "Bing", "extra": 1,
                "address": {"city": "X"}, "tags": ["Google", "Yahoo"], "phone": "12"
            })))
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "formData.address.city",
                "formData.email",
                "formData.extra",
                "formData.phone",
                "formData.source",
                "formData.tags[1]",
                "formData.visits",
            ]
        );
    }

    #[test]
    fn header_injection_in_email_is_rejected() {
        let err = spec()
            .check(obj(json!({"email": "a@b.c\r\nBcc: x@evil"})))
            .err()
            .unwrap_or_default();
        assert!(err.iter().any(|v| v.field == "formData.email"), "{err:?}");
    }

    #[test]
    fn limits_and_trimming() {
        let limits = SubmissionLimits::default();
        let long = "x".repeat(10_001);
        let v = check_limits(&obj(json!({"a": long, "b": [[[[[[[[[1]]]]]]]]]})), &limits);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].field, "formData.a");
        let mut t = json!({"a": "  x ", "b": [" y"]});
        trim_strings(&mut t);
        assert_eq!(t, json!({"a": "x", "b": ["y"]}));
    }

    #[test]
    fn duplicate_key_ignores_case_and_needs_a_value() {
        let f = vec!["email".to_string()];
        assert_eq!(
            duplicate_key(&obj(json!({"email": "A@x.io"})), &f),
            duplicate_key(&obj(json!({"email": "a@x.io"})), &f)
        );
        assert_eq!(duplicate_key(&obj(json!({"other": 1})), &f), None);
    }
}
