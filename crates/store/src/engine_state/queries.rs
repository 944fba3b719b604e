//! The SQL behind engine state, shared by one-off reads and transactions.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{EngineWrite, Scope};
use crate::statement::Statement;
use crate::time_ms::to_ms;
use crate::{Backend, Result};

/// Most keys one `IN (…)` list, or rows one multi-row INSERT, carries.
const CHUNK: usize = 256;

pub(super) async fn get(conn: &mut AnyConnection, scope: &Scope, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query(
        "SELECT value FROM engine_state WHERE tenant_id = $1 AND session_id = $2 AND kind = $3 AND key = $4",
    )
    .bind(&scope.tenant)
    .bind(&scope.session)
    .bind(kind)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get("value")).transpose()?)
}

pub(super) async fn get_many<K: AsRef<str>>(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &Scope,
    kind: &str,
    keys: &[K],
) -> Result<HashMap<String, Vec<u8>>> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let mut select = scoped(backend, "SELECT key, value FROM engine_state WHERE ", scope, kind);
        select.push(" AND key IN (");
        for (n, key) in chunk.iter().enumerate() {
            if n > 0 {
                select.push(", ");
            }
            select.push_bind(key.as_ref().to_owned());
        }
        select.push(")");
        for row in select.build()?.fetch_all(&mut *conn).await? {
            found.insert(row.try_get("key")?, row.try_get("value")?);
        }
    }
    Ok(found)
}

pub(super) async fn list(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &Scope,
    kind: &str,
    prefix: Option<&str>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut select = scoped(backend, "SELECT key, value FROM engine_state WHERE ", scope, kind);
    push_prefix(&mut select, prefix);
    select.push(" ORDER BY key");
    let rows = select.build()?.fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("key")?, r.try_get("value")?))).collect()
}

pub(super) async fn keys(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &Scope,
    kind: &str,
    prefix: Option<&str>,
) -> Result<Vec<String>> {
    let mut select = scoped(backend, "SELECT key FROM engine_state WHERE ", scope, kind);
    push_prefix(&mut select, prefix);
    select.push(" ORDER BY key");
    let rows = select.build()?.fetch_all(conn).await?;
    rows.iter().map(|r| Ok(r.try_get("key")?)).collect()
}

pub(super) async fn apply(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &Scope,
    writes: &[EngineWrite],
) -> Result<()> {
    let now = to_ms(OffsetDateTime::now_utc());
    let mut rest = writes;
    while let Some(first) = rest.first() {
        let done = match first {
            EngineWrite::Put { .. } => {
                let run = put_run(rest);
                let mut insert = Statement::new(
                    backend,
                    "INSERT INTO engine_state (tenant_id, session_id, kind, key, value, stamp, updated_at) ",
                );
                insert.push_values(&rest[..run], |row, write| {
                    let EngineWrite::Put { kind, key, value, stamp } = write else { unreachable!("a run of puts") };
                    row.push_bind(scope.tenant.clone())
                        .push_bind(scope.session.clone())
                        .push_bind(kind.clone())
                        .push_bind(key.clone())
                        .push_bind(value.clone())
                        .push_bind(*stamp)
                        .push_bind(now);
                });
                insert.push(
                    " ON CONFLICT (session_id, kind, key) DO UPDATE SET value = excluded.value, \
                     stamp = excluded.stamp, updated_at = excluded.updated_at",
                );
                insert.build()?.execute(&mut *conn).await?;
                run
            }
            EngineWrite::Delete { kind, .. } => {
                let run = rest
                    .iter()
                    .take(CHUNK)
                    .take_while(|w| matches!(w, EngineWrite::Delete { kind: k, .. } if k == kind))
                    .count();
                let mut delete = scoped(backend, "DELETE FROM engine_state WHERE ", scope, kind);
                delete.push(" AND key IN (");
                for (n, write) in rest[..run].iter().enumerate() {
                    let EngineWrite::Delete { key, .. } = write else { unreachable!("a run of deletes") };
                    if n > 0 {
                        delete.push(", ");
                    }
                    delete.push_bind(key.clone());
                }
                delete.push(")");
                delete.build()?.execute(&mut *conn).await?;
                run
            }
            EngineWrite::DeletePrefix { kind, prefix } => {
                let mut delete = scoped(backend, "DELETE FROM engine_state WHERE ", scope, kind);
                push_prefix(&mut delete, Some(prefix));
                delete.build()?.execute(&mut *conn).await?;
                1
            }
            EngineWrite::DeleteKind { kind } => {
                scoped(backend, "DELETE FROM engine_state WHERE ", scope, kind).build()?.execute(&mut *conn).await?;
                1
            }
        };
        rest = &rest[done..];
    }
    Ok(())
}

/// How many puts from the start of `writes` one INSERT can carry: a run of puts, at most
/// [`CHUNK`], with no key twice (Postgres refuses to upsert a row twice in a statement).
fn put_run(writes: &[EngineWrite]) -> usize {
    let mut seen = HashSet::new();
    writes
        .iter()
        .take(CHUNK)
        .take_while(|w| match w {
            EngineWrite::Put { kind, key, .. } => seen.insert((kind.as_str(), key.as_str())),
            _ => false,
        })
        .count()
}

/// `<sql>tenant_id = ? AND session_id = ? AND kind = ?`.
fn scoped(backend: Backend, sql: &str, scope: &Scope, kind: &str) -> Statement {
    let mut statement = Statement::new(backend, sql);
    statement.push("tenant_id = ").push_bind(scope.tenant.clone());
    statement.push(" AND session_id = ").push_bind(scope.session.clone());
    statement.push(" AND kind = ").push_bind(kind.to_owned());
    statement
}

/// Limits a statement to keys starting with `prefix`, as a range of the primary key.
fn push_prefix(statement: &mut Statement, prefix: Option<&str>) {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else { return };
    statement.push(" AND key >= ").push_bind(prefix.to_owned());
    if let Some(end) = prefix_end(prefix) {
        statement.push(" AND key < ").push_bind(end);
    }
}

/// The least string above every string that starts with `prefix`, if there is one:
/// `prefix` with its last character stepped up (byte order of UTF-8 is code point order).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_step_up_the_last_character() {
        assert_eq!(prefix_end("abc|").as_deref(), Some("abc}"));
        assert_eq!(prefix_end("a").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"), "surrogates are skipped");
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn a_put_run_stops_at_other_writes_and_repeated_keys() {
        let writes = [
            EngineWrite::put("k", "a", b"1".to_vec()),
            EngineWrite::put("k", "b", b"2".to_vec()),
            EngineWrite::put("k", "a", b"3".to_vec()),
        ];
        assert_eq!(put_run(&writes), 2);
        assert_eq!(put_run(&writes[2..]), 1);
        assert_eq!(put_run(&[EngineWrite::delete("k", "a")]), 0);
        let many: Vec<_> = (0..CHUNK + 5).map(|i| EngineWrite::put("k", i.to_string(), vec![])).collect();
        assert_eq!(put_run(&many), CHUNK);
    }
}
