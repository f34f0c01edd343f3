//! The benchmark's input: rows of `leads-xeducation.csv` as `formData` objects (camelCase
//! keys, numbers as numbers, blank cells left out), and the product every run creates
//! (a form of 15 of the file's columns and a scoring rule set over them).

use anyhow::Context;
use serde_json::{Map, Value, json};
use std::path::Path;

/// The CSV columns the benchmark form asks for, and whether each is a number.
const COLUMNS: &[(&str, bool)] = &[
    ("Prospect ID", false),
    ("Lead Origin", false),
    ("Lead Source", false),
    ("Do Not Email", false),
    ("Do Not Call", false),
    ("TotalVisits", true),
    ("Total Time Spent on Website", true),
    ("Page Views Per Visit", true),
    ("Last Activity", false),
    ("Country", false),
    ("Specialization", false),
    ("What is your current occupation", false),
    ("Tags", false),
    ("City", false),
    ("Last Notable Activity", false),
];

/// The default data file: `../shared/data/leads-xeducation.csv` beside the repository.
pub fn default_csv() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/leads-xeducation.csv"
    )
    .to_string()
}

/// "Total Time Spent on Website" -> "totalTimeSpentOnWebsite", "Prospect ID" -> "prospectId".
pub fn camel(header: &str) -> String {
    let mut out = String::new();
    for (i, word) in header.split_whitespace().enumerate() {
        let mut chars = word.chars();
        let Some(first) = chars.next() else { continue };
        if i == 0 {
            out.extend(first.to_lowercase());
            out.push_str(chars.as_str());
        } else {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
}

/// Reads every row of the file as a `formData` object over [`COLUMNS`].
pub fn read_rows(path: &Path) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("open {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let mut index = Vec::new();
    for (name, numeric) in COLUMNS {
        let i = headers
            .iter()
            .position(|h| h == *name)
            .with_context(|| format!("column {name:?} missing from {}", path.display()))?;
        index.push((i, camel(name), *numeric));
    }
    let mut rows = Vec::new();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec?;
        let mut form = Map::new();
        for (i, key, numeric) in &index {
            let cell = rec.get(*i).unwrap_or("").trim();
            if cell.is_empty() {
                continue;
            }
            let value = if *numeric {
                let n: f64 = cell
                    .parse()
                    .with_context(|| format!("row {}: {key} is not a number", line + 2))?;
                if n.fract() == 0.0 {
                    json!(n as i64)
                } else {
                    json!(n)
                }
            } else {
                json!(cell)
            };
            form.insert(key.clone(), value);
        }
        rows.push(form);
    }
    anyhow::ensure!(!rows.is_empty(), "{} has no rows", path.display());
    Ok(rows)
}

/// The body of `POST /config/api/products` for a product named `code`.
pub fn product(code: &str) -> Value {
    let mut props = Map::new();
    for (name, numeric) in COLUMNS {
        let p = if *numeric {
            json!({"type": "number", "minimum": 0})
        } else {
            json!({"type": "string", "maxLength": 200})
        };
        props.insert(camel(name), p);
    }
    json!({
        "productCode": code,
        "name": "lms-bench enquiry form",
        "formSchema": {
            "type": "object",
            "properties": props,
            "required": ["prospectId", "leadOrigin"],
            "additionalProperties": false
        },
        "scoringRules": scoring_rules(),
    })
}

/// A rule set touching most operators, so scoring costs what it costs in real use.
pub fn scoring_rules() -> Value {
    json!({
        "rules": [
            {"id": "origin", "field": "leadOrigin", "operator": "IN", "value": ["Lead Add Form", "lead import"], "points": 30, "reason": "strong origin"},
            {"id": "google", "field": "leadSource", "operator": "EQUALS", "value": "google", "points": 5, "reason": "search"},
            {"id": "time-high", "field": "totalTimeSpentOnWebsite", "operator": "GTE", "value": 1000, "points": 20, "reason": "engaged"},
            {"id": "time-mid", "field": "totalTimeSpentOnWebsite", "operator": "BETWEEN", "value": [500, 999], "points": 10, "reason": "some engagement"},
            {"id": "visits", "field": "totalVisits", "operator": "GT", "value": 5, "points": 5, "reason": "returning"},
            {"id": "sms", "field": "lastActivity", "operator": "IN", "value": ["SMS Sent"], "points": 15, "reason": "sms"},
            {"id": "olark", "field": "lastActivity", "operator": "EQUALS", "value": "Olark Chat Conversation", "points": -10, "reason": "chat only"},
            {"id": "pro", "field": "whatIsYourCurrentOccupation", "operator": "EQUALS", "value": "Working Professional", "points": 20, "reason": "can pay"},
            {"id": "no-email", "field": "doNotEmail", "operator": "EQUALS", "value": "yes", "points": -10, "reason": "unreachable"},
            {"id": "revert", "field": "tags", "operator": "CONTAINS", "value": "will revert", "points": 25, "reason": "promised"},
            {"id": "ringing", "field": "tags", "operator": "MATCHES", "value": "^(Ringing|Busy)$", "points": -5, "reason": "not reached"},
            {"id": "specialised", "field": "specialization", "operator": "NOT_IN", "value": ["Select"], "points": 3, "reason": "chose a specialization"},
            {"id": "notable", "field": "lastNotableActivity", "operator": "EXISTS", "value": null, "points": 1, "reason": "active"},
            {"id": "shallow", "field": "pageViewsPerVisit", "operator": "LTE", "value": 1, "points": -3, "reason": "shallow visits"},
            {"id": "india", "field": "country", "operator": "NOT_EQUALS", "value": "India", "points": 2, "reason": "abroad"},
            {"id": "few-visits", "field": "totalVisits", "operator": "LT", "value": 2, "points": -5, "reason": "single visit"}
        ],
        "priorityBands": [
            {"minScore": 0, "priority": "LOW"},
            {"minScore": 25, "priority": "MEDIUM"},
            {"minScore": 50, "priority": "HIGH"},
            {"minScore": 75, "priority": "URGENT"}
        ],
        "defaultPriority": "LOW"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_keys() {
        assert_eq!(camel("Prospect ID"), "prospectId");
        assert_eq!(camel("TotalVisits"), "totalVisits");
        assert_eq!(
            camel("What is your current occupation"),
            "whatIsYourCurrentOccupation"
        );
    }

    #[test]
    fn rows_of_the_real_file() {
        let path = default_csv();
        if !Path::new(&path).exists() {
            return;
        }
        let rows = read_rows(Path::new(&path)).expect("rows");
        assert_eq!(rows.len(), 9240);
        assert_eq!(
            rows[0]["prospectId"],
            "7927b2df-8bba-4d29-b9a2-b6e0beafe620"
        );
        assert_eq!(rows[1]["totalTimeSpentOnWebsite"], 674);
        assert_eq!(rows[1]["pageViewsPerVisit"], 2.5);
        assert!(rows[0].get("country").is_none(), "blank cells are left out");
        let fields = product("X")["formSchema"]["properties"]
            .as_object()
            .map(Map::len);
        assert_eq!(fields, Some(15));
    }
}
