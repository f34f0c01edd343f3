//! Query-string parameters: read by name, typed, with violations naming the parameter;
//! parameters a route does not know are a 400 (a typo must not silently widen a list).

use crate::error::RestError;
use axum::extract::{FromRequestParts, Query};
use http::request::Parts;
use lms_platform::error::Violation;

/// The query parameters of a request, in order.
pub struct Params {
    pairs: Vec<(String, String)>,
    used: Vec<String>,
    violations: Vec<Violation>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| RestError::field("query", "the query string is not valid"))?;
        Ok(Self {
            pairs,
            used: Vec::new(),
            violations: Vec::new(),
        })
    }
}

impl Params {
    /// Every value of `name`, comma-separated lists split.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        self.used.push(name.to_string());
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The value of a single-valued parameter (an empty value counts as absent); given
    /// twice is a violation.
    pub fn one(&mut self, name: &str) -> Option<String> {
        self.used.push(name.to_string());
        let mut values = self
            .pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone());
        let first = values.next();
        if values.next().is_some() {
            self.fail(name, "must be given once");
        }
        first
    }

    /// An integer parameter within `min..=max`.
    pub fn int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let s = self.one(name)?;
        match s.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.fail(name, format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    /// An enum parameter (see [`crate::convert::enums`]).
    pub fn enumeration(
        &mut self,
        name: &str,
        parse: fn(&str) -> Option<i32>,
        expected: &str,
    ) -> Option<i32> {
        let s = self.one(name)?;
        let v = parse(&s);
        if v.is_none() {
            self.fail(
                name,
                format!("unknown value {s:?}; expected one of {expected}"),
            );
        }
        v
    }

    /// Records a violation.
    pub fn fail(&mut self, name: &str, description: impl Into<String>) {
        self.violations.push(Violation::new(name, description));
    }

    /// Ends reading: unknown parameters and all violations give one 400.
    pub fn finish(mut self) -> Result<(), RestError> {
        let unknown: Vec<String> = self
            .pairs
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| !self.used.contains(k))
            .collect();
        for k in unknown {
            if !self.violations.iter().any(|v| v.field == k) {
                self.fail(&k, "unknown query parameter");
            }
        }
        crate::body::check(self.violations)
    }
}

/// The single path parameter of a route, percent-decoded.
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|_| RestError::field("path", "the path parameter is not valid"))
    }
}
