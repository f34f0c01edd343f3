//! Conversion between `serde_json::Value` and protobuf `Struct`/`Value`. Whole numbers
//! that fit in an `i64` come back as JSON integers, so `674` does not become `674.0`.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde_json::{Map, Number, Value as Json};

/// JSON value to protobuf `Value`.
pub fn to_value(v: &Json) -> Value {
    let kind = match v {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(a) => Kind::ListValue(ListValue {
            values: a.iter().map(to_value).collect(),
        }),
        Json::Object(o) => Kind::StructValue(to_struct(o)),
    };
    Value { kind: Some(kind) }
}

/// JSON object to protobuf `Struct`.
pub fn to_struct(o: &Map<String, Json>) -> Struct {
    Struct {
        fields: o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
    }
}

/// JSON value to `Struct`; `None` unless it is an object.
pub fn to_struct_opt(v: &Json) -> Option<Struct> {
    v.as_object().map(to_struct)
}

/// Protobuf `Value` to JSON.
pub fn from_value(v: &Value) -> Json {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::NumberValue(n)) => number(*n),
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::ListValue(l)) => Json::Array(l.values.iter().map(from_value).collect()),
        Some(Kind::StructValue(s)) => Json::Object(from_struct(s)),
    }
}

/// Protobuf `Struct` to a JSON object.
pub fn from_struct(s: &Struct) -> Map<String, Json> {
    s.fields
        .iter()
        .map(|(k, v)| (k.clone(), from_value(v)))
        .collect()
}

/// Optional `Struct` to JSON (`null` when absent).
pub fn from_struct_opt(s: Option<&Struct>) -> Json {
    s.map(|s| Json::Object(from_struct(s)))
        .unwrap_or(Json::Null)
}

fn number(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Json::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map(Json::Number).unwrap_or(Json::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_integers() {
        let v = serde_json::json!({"a": 674, "b": 2.5, "c": [null, true, "x"], "d": {"e": -3}});
        let back = from_struct(&to_struct(v.as_object().unwrap_or(&Map::new())));
        assert_eq!(Json::Object(back), v);
    }
}
