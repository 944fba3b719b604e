use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::error::BoxDynError;
use sqlx::query::Query;
use sqlx::{Any, Arguments, Encode, Type};

use crate::{Backend, Result};

/// A statement built piece by piece like sqlx's `QueryBuilder`, with the placeholders
/// each backend binds best: numbered (`$1`, `$2`, …) on Postgres, which rejects `?`
/// (`QueryBuilder<Any>` writes `?`: sqlx issue #3000); anonymous `?` on SQLite, where
/// binding `$N` looks every parameter up by name, quadratic in a multi-row insert.
pub(crate) struct Statement {
    backend: Backend,
    sql: String,
    args: AnyArguments,
    error: Option<BoxDynError>,
}

impl Statement {
    pub(crate) fn new(backend: Backend, sql: impl Into<String>) -> Self {
        Self { backend, sql: sql.into(), args: AnyArguments::default(), error: None }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn push_bind<'t, T: Encode<'t, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        match self.backend {
            Backend::Postgres => {
                let _ = write!(self.sql, "${}", self.args.len());
            }
            Backend::Sqlite => self.sql.push('?'),
        }
        self
    }

    /// `VALUES (…), (…)`: one tuple per item, its values bound by `row`.
    pub(crate) fn push_values<I>(
        &mut self,
        items: impl IntoIterator<Item = I>,
        mut row: impl FnMut(&mut Tuple<'_>, I),
    ) {
        self.push("VALUES ");
        for (n, item) in items.into_iter().enumerate() {
            self.push(if n == 0 { "(" } else { ", (" });
            row(&mut Tuple { statement: self, first: true }, item);
            self.push(")");
        }
    }

    pub(crate) fn build(self) -> Result<Query<'static, Any, AnyArguments>> {
        match self.error {
            Some(e) => Err(sqlx::Error::Encode(e).into()),
            None => Ok(sqlx::query_with(sqlx::AssertSqlSafe(self.sql), self.args)),
        }
    }
}

/// The values of one row of [`Statement::push_values`], comma-separated.
pub(crate) struct Tuple<'a> {
    statement: &'a mut Statement,
    first: bool,
}

impl Tuple<'_> {
    pub(crate) fn push_bind<'t, T: Encode<'t, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        if !std::mem::take(&mut self.first) {
            self.statement.push(", ");
        }
        self.statement.push_bind(value);
        self
    }
}
