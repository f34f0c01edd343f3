//! The seed's Spring-style page: `{content, totalElements, totalPages, size, number,
//! first, last, numberOfElements, empty}`, and its `page`/`size` parameters.

use crate::query::Params;
use serde_json::{Value, json};

/// Default page size.
pub const DEFAULT_SIZE: i64 = 20;
/// Largest page size.
pub const MAX_SIZE: i64 = 100;

/// Reads `page` (from 0, default 0) and `size` (1 to 100, default 20).
pub fn page_and_size(q: &mut Params) -> (i64, i64) {
    let page = q.int("page", 0, i64::from(i32::MAX)).unwrap_or(0);
    let size = q.int("size", 1, MAX_SIZE).unwrap_or(DEFAULT_SIZE);
    (page, size)
}

/// Builds a page.
pub fn page_json(content: Vec<Value>, total: i64, page: i64, size: i64) -> Value {
    let total = total.max(0);
    let total_pages = if size > 0 {
        (total + size - 1) / size
    } else {
        0
    };
    let n = content.len();
    json!({
        "content": content,
        "totalElements": total,
        "totalPages": total_pages,
        "size": size,
        "number": page,
        "first": page == 0,
        "last": page + 1 >= total_pages,
        "numberOfElements": n,
        "empty": n == 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_arithmetic() {
        let p = page_json(vec![json!(1); 20], 41, 0, 20);
        assert_eq!(p["totalPages"], 3);
        assert_eq!(
            (p["first"].as_bool(), p["last"].as_bool()),
            (Some(true), Some(false))
        );
        let p = page_json(vec![json!(1)], 41, 2, 20);
        assert_eq!(
            (p["first"].as_bool(), p["last"].as_bool()),
            (Some(false), Some(true))
        );
        assert_eq!(p["numberOfElements"], 1);
        let p = page_json(vec![], 0, 0, 20);
        assert_eq!(
            (
                p["totalPages"].as_i64(),
                p["last"].as_bool(),
                p["empty"].as_bool()
            ),
            (Some(0), Some(true), Some(true))
        );
    }
}
