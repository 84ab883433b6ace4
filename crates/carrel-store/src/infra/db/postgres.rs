//! PostgreSQL: for several Carrel servers sharing one database.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::{Param, Row, Value};
use crate::error::Error;

/// A PostgreSQL client with its prepared statements, keyed by Carrel's SQL
/// text (with `?` placeholders).
pub struct PgConn {
    /// Always `Some` until dropped; see `Drop` below.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    pub(super) in_transaction: bool,
}

#[derive(Clone)]
pub(crate) struct PgManager {
    config: postgres::Config,
    schema: Option<String>,
    /// Sessions that may not write (`carrel audit verify`): no schema or
    /// scratch table is created, and every transaction is read-only.
    read_only: bool,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        if self.read_only {
            if let Some(schema) = &self.schema {
                // The name was checked to be [a-z0-9_]+ when the URL was parsed.
                client.batch_execute(&format!("SET search_path TO {schema}"))?;
            }
            client.batch_execute("SET default_transaction_read_only = on")?;
            return Ok(PgConn {
                client: Some(client),
                statements: HashMap::new(),
                in_transaction: false,
            });
        }
        if let Some(schema) = &self.schema {
            // The name was checked to be [a-z0-9_]+ when the URL was parsed.
            // Made only when missing: CREATE SCHEMA IF NOT EXISTS has
            // PostgreSQL log a notice for every connection.
            let exists = !client
                .query(
                    "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1",
                    &[schema],
                )?
                .is_empty();
            if !exists {
                client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
            }
            client.batch_execute(&format!("SET search_path TO {schema}"))?;
        }
        client.batch_execute(crate::retention::step_table_sql(
            super::EngineKind::Postgres,
        ))?;
        Ok(PgConn {
            client: Some(client),
            statements: HashMap::new(),
            in_transaction: false,
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client().simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.as_ref().is_none_or(Client::is_closed)
    }
}

/// The pool, and a way to open a connection outside it.
pub(crate) struct PgPool {
    pool: r2d2::Pool<PgManager>,
    manager: PgManager,
}

impl PgPool {
    pub(super) fn get(&self) -> Result<r2d2::PooledConnection<PgManager>, r2d2::Error> {
        self.pool.get()
    }

    /// A connection within `wait`; `Err` says whether every connection was
    /// in use (busy) or the server could not be reached (unavailable).
    pub(super) fn get_within(
        &self,
        wait: std::time::Duration,
    ) -> Result<r2d2::PooledConnection<PgManager>, Error> {
        self.pool.get_timeout(wait).map_err(|e| {
            let state = self.pool.state();
            if state.connections >= self.pool.max_size() && state.idle_connections == 0 {
                Error::Busy
            } else {
                tracing::error!(error = %e, "no PostgreSQL connection available");
                Error::Unavailable
            }
        })
    }

    pub(super) fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// A connection of its own, closed when dropped (for a session lock
    /// that must not hold a connection of the pool).
    pub(super) fn connect_alone(&self) -> Result<PgConn, postgres::Error> {
        r2d2::ManageConnection::connect(&self.manager)
    }
}

pub(super) fn pool(url: &str, schema: Option<&str>, size: u32) -> Result<PgPool, Error> {
    build_pool(url, schema, size, false)
}

/// A pool of one read-only session (see [`PgManager::read_only`]).
pub(super) fn pool_read_only(url: &str, schema: Option<&str>) -> Result<PgPool, Error> {
    build_pool(url, schema, 1, true)
}

fn build_pool(
    url: &str,
    schema: Option<&str>,
    size: u32,
    read_only: bool,
) -> Result<PgPool, Error> {
    let config = postgres::Config::from_str(url)
        .map_err(|e| Error::config(format!("the PostgreSQL URL is not valid: {e}")))?;
    let manager = PgManager {
        config,
        schema: schema.map(str::to_string),
        read_only,
    };
    let pool = r2d2::Pool::builder()
        .max_size(size.max(1))
        .connection_timeout(std::time::Duration::from_secs(10))
        .build(manager.clone())
        .map_err(|e| {
            Error::config(format!(
                "cannot connect to PostgreSQL: {e}; check that the server runs and the URL is right"
            ))
        })?;
    Ok(PgPool { pool, manager })
}

/// Rewrites `?` placeholders as `$1, $2, ...`. Carrel's SQL has no string
/// literals containing `?`.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(wrong_type("an integer", ty)),
            },
            Param::Text(v) if <&str as ToSql>::accepts(ty) => v.to_sql(ty, out),
            Param::Text(_) => Err(wrong_type("text", ty)),
        }
    }

    /// The types some `Param` binds to: Carrel's columns are BIGINT (ids,
    /// counts, instants), INTEGER, SMALLINT, BOOLEAN and TEXT. Which
    /// variant goes with which type is checked in `to_sql`, which refuses
    /// a mismatch (text for a number, a number for a date) instead of
    /// sending bytes the server would read as something else.
    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::INT4 | Type::INT2 | Type::BOOL)
            || <&str as ToSql>::accepts(ty)
    }

    postgres::types::to_sql_checked!();
}

/// A parameter of the wrong kind for its place in the statement: a bug in
/// the SQL or its binding, named by types (never the value).
fn wrong_type(what: &str, ty: &Type) -> Box<dyn StdError + Sync + Send> {
    format!("{what} cannot be bound to a parameter of type {ty}").into()
}

/// The synchronous client closes its connection by blocking on its own
/// runtime, which panics on a thread that is driving async tasks (the last
/// `Store` may well be dropped on one). Closing on a thread of its own is
/// safe everywhere.
impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.statements.clear();
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

impl PgConn {
    fn client(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("a PgConn holds its client until dropped")
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let prepared = self
            .client()
            .prepare(&numbered_placeholders(sql))
            .map_err(error)?;
        self.statements.insert(sql.to_string(), prepared.clone());
        Ok(prepared)
    }

    pub(super) fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.client().batch_execute(sql).map_err(error)
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client().execute(&stmt, &refs).map_err(error)
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self.client().query(&stmt, &refs).map_err(error)?;
        let mut out = Vec::with_capacity(rows.len());
        let names: std::sync::Arc<[String]> = stmt
            .columns()
            .iter()
            .map(|column| column.name().to_string())
            .collect();
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let value = match *column.type_() {
                    Type::INT8 => row.get::<_, Option<i64>>(i).map(Value::Int),
                    Type::INT4 => row.get::<_, Option<i32>>(i).map(|v| Value::Int(v.into())),
                    Type::INT2 => row.get::<_, Option<i16>>(i).map(|v| Value::Int(v.into())),
                    Type::BOOL => row.get::<_, Option<bool>>(i).map(|v| Value::Int(v.into())),
                    Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                        row.get::<_, Option<String>>(i).map(Value::Text)
                    }
                    ref other => {
                        return Err(Error::internal(format!(
                            "column {} has type {other}, which Carrel does not read",
                            column.name()
                        )))
                    }
                };
                values.push(value.unwrap_or(Value::Null));
            }
            out.push(Row::new(names.clone(), values));
        }
        Ok(out)
    }
}

/// PostgreSQL errors can carry the offending value in their DETAIL ("Key
/// (card_barcode)=(...) already exists"), so only the SQLSTATE, the
/// constraint name and the primary message are kept.
pub(super) fn error(e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    match e.as_db_error() {
        // A lock not had within the transaction's `lock_timeout` (see
        // `Pool::run`), or a statement cancelled
        // by a timeout: another session holds what this one needs.
        Some(db)
            if *db.code() == SqlState::LOCK_NOT_AVAILABLE
                || *db.code() == SqlState::QUERY_CANCELED =>
        {
            Error::Busy
        }
        Some(db) if *db.code() == SqlState::DISK_FULL => Error::DiskFull,
        Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => Error::Conflict {
            what: db.constraint().unwrap_or("a unique index").to_string(),
        },
        Some(db) if *db.code() == SqlState::TOO_MANY_CONNECTIONS => Error::Unavailable,
        Some(db) => Error::Database(format!(
            "postgres: {} (SQLSTATE {}{})",
            db.message(),
            db.code().code(),
            db.constraint()
                .map(|c| format!(", constraint {c}"))
                .unwrap_or_default()
        )),
        None => Error::Database(format!(
            "postgres: {}",
            e.source()
                .map_or_else(|| "connection error".to_string(), |s| s.to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::numbered_placeholders;
    use crate::db::{params, DatabaseUrl, Pool};

    /// Issue 14, item 4: a parameter binds with its SQL type. An integer
    /// where the statement wants a date, or text where it wants a number,
    /// is refused, naming the types, instead of sent as bytes the server
    /// reads as something else; the types Carrel's columns have still bind.
    #[test]
    fn a_parameter_of_the_wrong_kind_is_refused_not_misread() {
        let Some(server) = carrel_test_postgres::server_url() else {
            return;
        };
        let pool =
            Pool::open(&DatabaseUrl::parse(&format!("{server}?pool_size=1")).unwrap()).unwrap();
        pool.run(|mut conn| {
            let row = conn.query_one(
                "SELECT ?::bigint + 1 AS from_bigint, ?::integer + 1 AS from_integer, ?::smallint + 1 AS from_smallint, ?::text AS from_text, ?::boolean AS from_boolean",
                params![41_i64, 41_i64, 41_i64, "text", true],
            )?;
            assert_eq!(
                (
                    row.int("from_bigint")?,
                    row.int("from_integer")?,
                    row.int("from_smallint")?,
                    row.text("from_text")?
                ),
                (42, 42, 42, "text".to_string())
            );
            let date = conn
                .query_one("SELECT ?::timestamptz", params![1_767_225_600_i64])
                .unwrap_err();
            // Refused by the driver before any byte is sent: no Param
            // binds to a timestamp (Carrel keeps instants as BIGINT).
            assert!(date.to_string().contains("timestamptz"), "{date}");
            let number = conn
                .query_one("SELECT ?::bigint", params!["41"])
                .unwrap_err();
            assert!(
                number
                    .to_string()
                    .contains("text cannot be bound to a parameter of type int8"),
                "{number}"
            );
            let too_big = conn
                .query_one("SELECT ?::integer", params![i64::from(i32::MAX) + 1])
                .unwrap_err();
            assert!(!too_big.to_string().is_empty());
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ? AND c > ?"),
            "SELECT a FROM t WHERE b = $1 AND c > $2"
        );
    }
}
