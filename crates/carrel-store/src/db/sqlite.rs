//! SQLite: the embedded default. One file, WAL journal, secure deletion on.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use super::{Param, Row, Synchronous, Value};
use crate::error::Error;

pub(super) fn open(path: &str, synchronous: Synchronous) -> Result<Connection, Error> {
    let conn = connect(path, synchronous)?;
    // Checkpoints (copying the WAL back into the database file) are done by
    // `Checkpointer` on its own thread, not by whichever request happens to
    // cross the threshold: that request would stall for the whole copy.
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
        .map_err(error)?;
    // What the purge's statements need: its SQL functions and scratch
    // table. Only this connection runs Carrel's queries.
    super::functions::register(&conn).map_err(error)?;
    conn.execute_batch(crate::retention::step_table_sql(super::EngineKind::Sqlite))
        .map_err(error)?;
    Ok(conn)
}

/// The page cache of a connection, in KiB (64 MiB).
pub(super) const CACHE_KIB: u64 = 64 * 1024;

/// The most page cache a purge transaction takes, in KiB (1 GiB). A purge
/// touches index pages all over the database (a loan's patron and item
/// index entries are on random pages), and every dirty page pushed out of
/// the cache is written to the WAL before the commit writes it again: on
/// 10M loans a step took 310 ms with 64 MiB, 255 ms with 256 MiB and
/// 160 ms with 1 GiB (`carrel-bench purge`).
const PURGE_CACHE_MAX_KIB: u64 = 1024 * 1024;

/// The page cache for a purge transaction: as large as the database file,
/// within [`CACHE_KIB`] and [`PURGE_CACHE_MAX_KIB`]. Memory is only used
/// for pages the purge touches, and goes back when it commits.
pub(super) fn purge_cache_kib(path: &str) -> u64 {
    let file_kib = std::fs::metadata(path).map_or(0, |m| m.len() / 1024);
    file_kib.clamp(CACHE_KIB, PURGE_CACHE_MAX_KIB)
}

fn connect(path: &str, synchronous: Synchronous) -> Result<Connection, Error> {
    let conn = Connection::open(path).map_err(|e| {
        Error::config(format!(
            "cannot open the SQLite database file: {e}; check the path exists and is writable"
        ))
    })?;
    let synchronous = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    // secure_delete: deleted rows are overwritten with zeros in the file, so
    // destroyed records cannot be read back from free pages (D2).
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {synchronous};
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA busy_timeout = 10000;
         PRAGMA cache_size = -{CACHE_KIB};
         PRAGMA temp_store = MEMORY;"
    ))
    .map_err(error)?;
    Ok(conn)
}

/// How often the WAL is copied into the database file. Each checkpoint
/// fsyncs the database file, competing with commits for the disk, so not too
/// often; the WAL grows by a few seconds of writes in between.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Copies the WAL into the database file in the background, without
/// blocking writers (PASSIVE). Stops when dropped.
pub(crate) struct Checkpointer {
    _stop: std::sync::mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn start(path: &str, synchronous: Synchronous) -> Result<Checkpointer, Error> {
        let conn = connect(path, synchronous)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("carrel-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                    }
                }
                // Last one on the way out, so the file is complete on disk.
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            })
            .map_err(|e| Error::internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}

/// The size past which a long write (a purge) stops to let the WAL be
/// copied back and reused: the background checkpointer cannot catch up
/// with back-to-back batches, and a WAL of gigabytes makes every page
/// lookup walk its whole index.
const WAL_BOUND: u64 = 64 * 1024 * 1024;

/// Between a purge's batches: if the WAL has grown past [`WAL_BOUND`],
/// copy it into the database file and restart it from the beginning. Takes
/// the write lock for the copy (requests wait, as for one more batch).
pub(super) fn bound_wal(path: &str, synchronous: Synchronous) -> Result<(), Error> {
    let size = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    if size <= WAL_BOUND {
        return Ok(());
    }
    let conn = connect(path, synchronous)?;
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(error)?;
    conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
        .map_err(error)
}

/// Copies the whole WAL into the database file and truncates the WAL to
/// zero bytes, so no old page image survives in it. Waits (through the busy
/// handler) for the writer to finish its current transaction; retries while
/// a reader still needs the log.
pub(super) fn checkpoint_truncate(path: &str, synchronous: Synchronous) -> Result<(), Error> {
    let conn = connect(path, synchronous)?;
    // Copy what can be copied without blocking writers first, so the desk
    // waits only while TRUNCATE copies the rest and cuts the file.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(error)?;
    for _ in 0..50 {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(error)?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(Error::Database(
        "sqlite: the write-ahead log could not be truncated after a purge (a reader kept it busy); it will be at the next purge".into(),
    ))
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Param::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        })
    }
}

pub(super) fn execute(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    let changed = stmt
        .execute(rusqlite::params_from_iter(params.iter()))
        .map_err(error)?;
    Ok(changed as u64)
}

pub(super) fn query(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    let columns = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error)? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match row.get_ref(i).map_err(error)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Int(v as i64),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => {
                    return Err(Error::internal("Carrel stores no blobs; found one"))
                }
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

/// SQLite's messages name tables and constraints, never values, so they are
/// safe to log; they are still not shown to users.
pub(super) fn error(e: rusqlite::Error) -> Error {
    Error::Database(format!("sqlite: {e}"))
}
