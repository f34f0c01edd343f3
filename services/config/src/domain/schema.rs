//! Checks of a form's JSON Schema on save: size limits, the meta-schema of its draft
//! (2020-12 unless `$schema` names another), that it compiles (patterns, local `$ref`s),
//! that the top level is an object of fields, and that every `x-dictionary` names a
//! dictionary. Every problem becomes a violation whose field is the dotted path inside
//! `formSchema` (e.g. `formSchema.properties.age.type`).

use jsonschema::{Draft, Validator};
use lms_platform::Violation;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Largest schema, in bytes of compact JSON.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;
/// Most property definitions in a schema (counted at every depth).
pub const MAX_PROPERTIES: usize = 500;
/// Deepest nesting of a schema's JSON.
pub const MAX_DEPTH: usize = 32;

/// The keyword that ties a property to a dictionary.
pub const X_DICTIONARY: &str = "x-dictionary";

const FIELD: &str = "formSchema";

/// Checks a form schema; `dictionaries` are the names defined beside it. Returns every
/// problem found.
pub fn check(schema: &Value, dictionaries: &BTreeSet<String>) -> Vec<Violation> {
    let mut out = Vec::new();
    let Some(obj) = schema.as_object() else {
        out.push(Violation::new(FIELD, "must be a JSON Schema object"));
        return out;
    };
    let size = serde_json::to_vec(schema)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        out.push(Violation::new(
            FIELD,
            format!("is {size} bytes; at most {MAX_SCHEMA_BYTES} are allowed"),
        ));
        return out;
    }
    if depth(schema) > MAX_DEPTH {
        out.push(Violation::new(
            FIELD,
            format!("is nested more than {MAX_DEPTH} levels deep"),
        ));
        return out;
    }
    top_level(obj, &mut out);
    let meta_ok = meta(schema, &mut out);
    if meta_ok {
        compiles(schema, &mut out);
    }
    let mut walker = Walker {
        dictionaries,
        properties: 0,
        out: &mut out,
    };
    walker.schema(obj, FIELD);
    let count = walker.properties;
    if count > MAX_PROPERTIES {
        out.push(Violation::new(
            format!("{FIELD}.properties"),
            format!("defines {count} properties; at most {MAX_PROPERTIES} are allowed"),
        ));
    }
    out
}

/// The names of the schema's top-level properties (the keys of `formData`).
pub fn top_level_properties(schema: &Value) -> BTreeSet<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn top_level(obj: &Map<String, Value>, out: &mut Vec<Violation>) {
    if obj.get("type") != Some(&Value::String("object".into())) {
        out.push(Violation::new(
            format!("{FIELD}.type"),
            "must be \"object\": a form is an object of fields",
        ));
    }
    if !obj.get("properties").is_some_and(Value::is_object) {
        out.push(Violation::new(
            format!("{FIELD}.properties"),
            "must be an object that defines the form's fields",
        ));
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Validates against the meta-schema of the schema's draft; false when it is invalid.
fn meta(schema: &Value, out: &mut Vec<Violation>) -> bool {
    let draft = match Draft::default().detect(schema) {
        Ok(d) => d,
        Err(_) => {
            out.push(Violation::new(
                format!("{FIELD}.$schema"),
                "names an unknown JSON Schema draft (use https://json-schema.org/draft/2020-12/schema)",
            ));
            return false;
        }
    };
    let Some(validator) = meta_validator(draft) else {
        out.push(Violation::new(
            format!("{FIELD}.$schema"),
            "names an unsupported JSON Schema draft",
        ));
        return false;
    };
    let before = out.len();
    let mut seen = BTreeSet::new();
    for err in validator.iter_errors(schema) {
        let field = pointer_to_path(FIELD, err.instance_path.as_str());
        let description = err.to_string();
        if seen.insert((field.clone(), description.clone())) {
            out.push(Violation::new(field, description));
        }
    }
    out.len() == before
}

/// Meta-schema validators, one per draft, built once. The meta-schemas are bundled with
/// the `jsonschema` crate, so nothing is fetched.
fn meta_validator(draft: Draft) -> Option<&'static Validator> {
    static VALIDATORS: OnceLock<Vec<(Draft, Validator)>> = OnceLock::new();
    let all = VALIDATORS.get_or_init(|| {
        [
            (Draft::Draft4, "http://json-schema.org/draft-04/schema#"),
            (Draft::Draft6, "http://json-schema.org/draft-06/schema#"),
            (Draft::Draft7, "http://json-schema.org/draft-07/schema#"),
            (
                Draft::Draft201909,
                "https://json-schema.org/draft/2019-09/schema",
            ),
            (
                Draft::Draft202012,
                "https://json-schema.org/draft/2020-12/schema",
            ),
        ]
        .into_iter()
        .filter_map(|(d, uri)| {
            jsonschema::options()
                .with_draft(d)
                .build(&serde_json::json!({ "$ref": uri }))
                .ok()
                .map(|v| (d, v))
        })
        .collect()
    });
    all.iter().find(|(d, _)| *d == draft).map(|(_, v)| v)
}

/// Compiles the schema as the lead service will (bad regex patterns, unresolvable
/// references); external references are never fetched. Runs only once the meta-schema
/// passes, because compilation stops at the first meta-schema error.
fn compiles(schema: &Value, out: &mut Vec<Violation>) {
    if let Err(e) = jsonschema::options().build(schema) {
        let field = pointer_to_path(FIELD, e.instance_path.as_str());
        out.push(Violation::new(field, e.to_string()));
    }
}

/// `/properties/age/type` under `formSchema` -> `formSchema.properties.age.type`;
/// array indices become `[i]`.
pub fn pointer_to_path(base: &str, pointer: &str) -> String {
    let mut path = base.to_string();
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty()
            && seg.bytes().all(|b| b.is_ascii_digit())
            && !path.ends_with("properties")
        {
            path.push_str(&format!("[{seg}]"));
        } else {
            path.push('.');
            path.push_str(&seg);
        }
    }
    path
}

/// Walks schema positions (not arbitrary JSON) to find `x-dictionary` and count
/// properties.
struct Walker<'a> {
    dictionaries: &'a BTreeSet<String>,
    properties: usize,
    out: &'a mut Vec<Violation>,
}

/// Keywords whose value is one subschema.
const ONE: &[&str] = &[
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];
/// Keywords whose value is an array of subschemas.
const MANY: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems", "items"];
/// Keywords whose value maps names to subschemas.
const MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

impl Walker<'_> {
    fn schema(&mut self, obj: &Map<String, Value>, path: &str) {
        for (k, v) in obj {
            let here = format!("{path}.{k}");
            if k == X_DICTIONARY {
                self.dictionary_ref(v, &here);
            } else if MAP.contains(&k.as_str()) {
                if let Some(m) = v.as_object() {
                    if k == "properties" {
                        self.properties += m.len();
                    }
                    for (name, sub) in m {
                        if let Some(s) = sub.as_object() {
                            self.schema(s, &format!("{here}.{name}"));
                        }
                    }
                }
            } else if let (true, Some(s)) = (ONE.contains(&k.as_str()), v.as_object()) {
                self.schema(s, &here);
            } else if let (true, Some(a)) = (MANY.contains(&k.as_str()), v.as_array()) {
                for (i, sub) in a.iter().enumerate() {
                    if let Some(s) = sub.as_object() {
                        self.schema(s, &format!("{here}[{i}]"));
                    }
                }
            }
        }
    }

    fn dictionary_ref(&mut self, v: &Value, path: &str) {
        match v.as_str() {
            Some(name) if self.dictionaries.contains(name) => {}
            Some(name) => self.out.push(Violation::new(
                path,
                format!("names the dictionary \"{name}\", which is not defined in dictionaries"),
            )),
            None => self
                .out
                .push(Violation::new(path, "must be the name of a dictionary")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dicts(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn fields(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn a_plain_form_passes() {
        let s = json!({"type": "object", "properties": {
            "email": {"type": "string", "format": "email"},
            "age": {"type": "integer", "minimum": 18},
            "city": {"type": "string", "x-dictionary": "cities"},
            "tags": {"type": "array", "items": {"type": "string", "x-dictionary": "tags"}}
        }, "required": ["email"], "additionalProperties": false});
        assert_eq!(check(&s, &dicts(&["cities", "tags"])), vec![]);
        assert_eq!(
            top_level_properties(&s),
            dicts(&["age", "city", "email", "tags"])
        );
    }

    #[test]
    fn meta_schema_errors_name_the_path() {
        let s = json!({"type": "object", "properties": {
            "age": {"type": "integr"},
            "name": {"type": "string", "minLength": -1}
        }});
        let v = check(&s, &dicts(&[]));
        let f = fields(&v);
        assert!(f.contains(&"formSchema.properties.age.type"), "{v:?}");
        assert!(f.contains(&"formSchema.properties.name.minLength"), "{v:?}");
    }

    #[test]
    fn top_level_must_be_an_object_of_fields() {
        let v = check(&json!({"type": "string"}), &dicts(&[]));
        assert_eq!(fields(&v), vec!["formSchema.type", "formSchema.properties"]);
        let v = check(&json!([1]), &dicts(&[]));
        assert_eq!(fields(&v), vec!["formSchema"]);
    }

    #[test]
    fn unknown_dictionaries_and_drafts_are_reported() {
        let s = json!({"type": "object", "properties": {
            "city": {"type": "string", "x-dictionary": "towns"},
            "list": {"type": "array", "items": {"x-dictionary": 3}}
        }});
        let v = check(&s, &dicts(&["cities"]));
        assert_eq!(
            fields(&v),
            vec![
                "formSchema.properties.city.x-dictionary",
                "formSchema.properties.list.items.x-dictionary"
            ]
        );
        let s = json!({"$schema": "https://example.com/mine", "type": "object", "properties": {}});
        assert_eq!(fields(&check(&s, &dicts(&[]))), vec!["formSchema.$schema"]);
        // Older drafts are checked against their own meta-schema.
        for draft in [
            "http://json-schema.org/draft-04/schema#",
            "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2019-09/schema",
        ] {
            let s = json!({"$schema": draft, "type": "object",
                           "properties": {"a": {"type": "integr"}}});
            assert_eq!(
                fields(&check(&s, &dicts(&[]))),
                vec!["formSchema.properties.a.type"]
            );
        }
    }

    #[test]
    fn bad_patterns_and_limits() {
        let s = json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}});
        let v = check(&s, &dicts(&[]));
        assert!(!v.is_empty(), "{v:?}");
        let many: Map<String, Value> = (0..501)
            .map(|i| (format!("f{i}"), json!({"type": "string"})))
            .collect();
        let s = json!({"type": "object", "properties": many});
        assert_eq!(
            fields(&check(&s, &dicts(&[]))),
            vec!["formSchema.properties"]
        );
        let big = "x".repeat(MAX_SCHEMA_BYTES);
        let s = json!({"type": "object", "properties": {}, "description": big});
        assert_eq!(fields(&check(&s, &dicts(&[]))), vec!["formSchema"]);
    }

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(
            pointer_to_path("formSchema", "/properties/a~1b/items/0"),
            "formSchema.properties.a/b.items[0]"
        );
        assert_eq!(
            pointer_to_path("formSchema", "/properties/7"),
            "formSchema.properties.7"
        );
        assert_eq!(pointer_to_path("formSchema", ""), "formSchema");
    }
}
