//! How form values are read by the operators: their number (JSON numbers and numeric
//! strings), their text (strings as they are, numbers without a trailing `.0`, booleans as
//! `true`/`false`) and blankness (absent, null or a whitespace-only string).

use serde_json::{Number, Value};
use std::borrow::Cow;

/// Parses a trimmed numeric string to a finite number (`"inf"` and `"NaN"` are not numbers).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Returns the number a value denotes: a JSON number, or a numeric string.
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

/// Renders a JSON number as text without a trailing `.0` (`5` -> "5", `2.5` -> "2.5").
pub(crate) fn render_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(0.0) => "0".to_string(),
        // Both zeros match `0.0` above. `Display` of f64 never prints a trailing ".0" nor an exponent.
        Some(f) => f.to_string(),
        None => n.to_string(),
    }
}

/// Returns the text of a scalar (string, number, boolean); `None` for null, arrays and objects.
pub(crate) fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(render_number(n))),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// True when a field is absent, null or an empty string after trimming: such a field never
/// matches any rule.
pub(crate) fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_from_json_and_numeric_strings() {
        assert_eq!(as_number(&json!(5)), Some(5.0));
        assert_eq!(as_number(&json!(-2.5)), Some(-2.5));
        assert_eq!(as_number(&json!(" 7.25 ")), Some(7.25));
        assert_eq!(as_number(&json!("1e3")), Some(1000.0));
        assert_eq!(as_number(&json!("abc")), None);
        assert_eq!(as_number(&json!("")), None);
        assert_eq!(as_number(&json!("inf")), None);
        assert_eq!(as_number(&json!("NaN")), None);
        assert_eq!(as_number(&json!("1e400")), None);
        assert_eq!(as_number(&json!(true)), None);
        assert_eq!(as_number(&json!(null)), None);
        assert_eq!(as_number(&json!([1])), None);
    }

    #[test]
    fn numbers_render_without_trailing_zero() {
        assert_eq!(scalar_text(&json!(5)).unwrap(), "5");
        assert_eq!(scalar_text(&json!(5.0)).unwrap(), "5");
        assert_eq!(scalar_text(&json!(2.5)).unwrap(), "2.5");
        assert_eq!(scalar_text(&json!(-0.0)).unwrap(), "0");
        assert_eq!(scalar_text(&json!(u64::MAX)).unwrap(), u64::MAX.to_string());
        assert_eq!(scalar_text(&json!(1e20)).unwrap(), "100000000000000000000");
        assert_eq!(scalar_text(&json!(true)).unwrap(), "true");
        assert_eq!(scalar_text(&json!(" x ")).unwrap(), " x ");
        assert!(scalar_text(&json!(null)).is_none());
        assert!(scalar_text(&json!({"a": 1})).is_none());
    }

    #[test]
    fn blank_means_absent_null_or_empty_string() {
        assert!(is_blank(None));
        assert!(is_blank(Some(&json!(null))));
        assert!(is_blank(Some(&json!(""))));
        assert!(is_blank(Some(&json!("  \t"))));
        assert!(!is_blank(Some(&json!(0))));
        assert!(!is_blank(Some(&json!(false))));
        assert!(!is_blank(Some(&json!([]))));
        assert!(!is_blank(Some(&json!("x"))));
    }
}
