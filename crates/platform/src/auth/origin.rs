//! A product's allowed origins: which web pages may fetch its form and submit leads. One
//! rule for config (render package) and lead (submission), so the two never disagree.

/// The browser's `Origin` header of a gRPC request (the gateway forwards it), if any.
pub fn request_origin(metadata: &tonic::metadata::MetadataMap) -> Option<&str> {
    metadata.get("origin").and_then(|v| v.to_str().ok())
}

/// Whether a page of `origin` is allowed by `allowed` (compared case-insensitively, a
/// trailing `/` ignored). An empty list allows every page; a request without an
/// `Origin` (a server-side call, which no header can restrict) is always allowed.
pub fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    match origin {
        Some(o) if !allowed.is_empty() => {
            let o = o.trim_end_matches('/');
            allowed.iter().any(|a| a.eq_ignore_ascii_case(o))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_pages_and_server_calls_pass() {
        let list = vec!["https://shop.example".to_string()];
        assert!(origin_allowed(&list, Some("https://SHOP.example/")));
        assert!(!origin_allowed(&list, Some("https://evil.example")));
        assert!(origin_allowed(&list, None));
        assert!(origin_allowed(&[], Some("https://evil.example")));
    }
}
