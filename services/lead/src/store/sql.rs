//! A small builder for SQL with numbered `$n` placeholders and typed arguments.

use sqlx::Any;
use sqlx::any::AnyArguments;

/// A query on the `Any` driver.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// One argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I(i64),
    S(String),
}

/// SQL text plus its arguments, placeholders numbered as they are pushed.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument and returns its placeholder.
    pub(crate) fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    /// Appends text.
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// `(p1, p2, ...)` for the values.
    pub(crate) fn list(&mut self, values: impl IntoIterator<Item = Arg>) -> String {
        let ps: Vec<String> = values.into_iter().map(|v| self.arg(v)).collect();
        format!("({})", ps.join(", "))
    }

    /// The query with every argument bound.
    pub(crate) fn query(&self) -> AnyQuery<'_> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::I(i) => q.bind(*i),
                Arg::S(s) => q.bind(s.clone()),
            };
        }
        q
    }
}
