//! SQLite: the embedded default. One file, WAL journal, secure deletion on.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use super::{Param, Row, Synchronous, Value};
use crate::error::Error;

pub(super) fn open(path: &str, synchronous: Synchronous) -> Result<Connection, Error> {
    create_private(path)?;
    warn_if_readable_by_others(path);
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

/// Opens an existing database only to read it (`carrel audit verify`):
/// nothing is created beside it, nothing written, no lock file taken, so
/// a copy in a read-only folder or on a read-only mount can be read.
///
/// A database in WAL mode is read through its shared-memory file (`-shm`),
/// which SQLite must create if it is missing: a read-only folder refuses
/// that. So: with a `-shm` file (a server has the database open, or was
/// stopped uncleanly), or with changes waiting in the `-wal` file, it is
/// opened `mode=ro` and SQLite reads the log. With neither (a database
/// closed cleanly, or a copy of one), everything committed is in the file
/// itself, and it is opened `immutable`: SQLite then creates no `-wal` or
/// `-shm` file and takes no lock. (A server started on the file while it
/// is read so would make that reading unsound: verify again if one did.)
pub(super) fn open_read_only(path: &str) -> Result<Connection, Error> {
    use rusqlite::OpenFlags;
    warn_if_readable_by_others(path);
    let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    let shm = std::path::Path::new(&format!("{path}-shm")).exists();
    let immutable = wal == 0 && !shm;
    let uri = format!(
        "file:{}?mode=ro{}",
        uri_path(path),
        if immutable { "&immutable=1" } else { "" }
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let cannot_read = |e: rusqlite::Error| {
        let waiting = if wal > 0 && !shm {
            format!(" Its write-ahead log ({path}-wal) holds changes that SQLite can read only through a shared-memory file ({path}-shm), which is missing and cannot be made here: copy the database with `sqlite3 DATABASE \".backup COPY\"` (one file, nothing pending), or copy the -shm file with it.")
        } else {
            String::new()
        };
        Error::config(format!(
            "cannot open the SQLite database file {path} to read it: {e}.{waiting}"
        ))
    };
    let conn = Connection::open_with_flags(&uri, flags).map_err(cannot_read)?;
    // Opening is lazy: the first read is where a missing log index shows.
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(cannot_read)?;
    conn.execute_batch("PRAGMA query_only = ON;")
        .map_err(error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
    Ok(conn)
}

/// A file path as the path of a `file:` URI: `%`, `?` and `#` would
/// otherwise be read as escapes, the query and the fragment.
fn uri_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

/// Runs statements outside Carrel's transactions: to open and end one on
/// a read-only connection, which group commit does not manage.
pub(super) fn batch_outside(conn: &Connection, sql: &str) -> Result<(), Error> {
    conn.execute_batch(sql).map_err(error)
}

/// Creates the database file, readable and writable by its owner only, if
/// it does not exist yet. SQLite would create it with the process's umask
/// (0644 by default: the review read names and e-mails as another local
/// user), and gives the WAL and shared-memory files the database file's
/// permissions, so these follow.
fn create_private(path: &str) -> Result<(), Error> {
    match crate::private_files::options()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::config(format!(
            "cannot create the SQLite database file {path}: {e}; check the folder exists and is writable"
        ))),
    }
}

/// Warns when the database, its WAL or its shared-memory file can be read
/// by other users of the machine: they hold personal data.
fn warn_if_readable_by_others(path: &str) {
    for file in [
        path.to_string(),
        format!("{path}-wal"),
        format!("{path}-shm"),
    ] {
        crate::private_files::warn_if_readable_by_others(
            std::path::Path::new(&file),
            "the database file (it holds personal data)",
        );
    }
}

/// Marks this process as the Carrel server of a SQLite database, for as
/// long as the returned file is open: an exclusive lock on
/// `<database>.server-lock`. A second server on the same file would queue
/// its writes behind the first one's in SQLite's busy handler instead of
/// in memory, so it is refused; a purge run from another process (cron)
/// sees the lock and yields to the server between short transactions.
pub(super) fn lock_as_server(path: &str) -> Result<std::fs::File, Error> {
    let file = open_lock_file(&lock_path(path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::config(format!(
            "another Carrel server is already using the database {path}; stop it first, or point this one at another database"
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::config(format!(
            "cannot lock the database's server-lock file: {e}"
        ))),
    }
}

/// Whether a Carrel server in another process holds [`lock_as_server`].
pub(super) fn server_elsewhere(path: &str) -> bool {
    // Opened, never created: no lock file, no server.
    let Ok(file) = std::fs::File::open(lock_path(path)) else {
        return false;
    };
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// The lock file of a database: beside the file itself, links resolved, so
/// a second server that reaches the same file by another name (a symbolic
/// link, a relative path) finds the same lock.
fn lock_path(path: &str) -> String {
    let real =
        std::fs::canonicalize(path).map_or_else(|_| path.to_string(), |p| p.display().to_string());
    format!("{real}.server-lock")
}

fn open_lock_file(lock: &str) -> Result<std::fs::File, Error> {
    crate::private_files::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock)
        .map_err(|e| {
            Error::config(format!(
                "cannot open {lock}: {e}; check the database's folder is writable"
            ))
        })
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
         PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT};
         PRAGMA cache_size = -{CACHE_KIB};
         PRAGMA temp_store = MEMORY;"
    ))
    .map_err(error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
    Ok(conn)
}

/// How long the writer waits for the database's write lock when another
/// program (a purge run from cron, `carrel staff add`, an analyst's write)
/// holds it, before the request is answered "busy" (503 with Retry-After).
/// Carrel's own checkpoints never make it wait: they take their turn in
/// the group commit's queue and do not wait for readers.
pub(super) const BUSY_TIMEOUT: std::time::Duration = super::WAIT_FOR_DATABASE;

/// How long the checkpointer rests after a failed checkpoint.
const CHECKPOINT_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// How often the checkpointer looks at the WAL's size.
const CHECKPOINT_TICK: std::time::Duration = std::time::Duration::from_millis(500);

/// The WAL's size past which it is copied back and cut to zero bytes. At
/// the checkout benchmark's rate (16 clients, about 15 MB of WAL a second
/// at synchronous=full) that is a turn every half second or so; each turn
/// costs the desk one copy of what came in since the checkpointer's last
/// non-blocking copy, and one fsync.
const WAL_SOFT_LIMIT: u64 = 8 * 1024 * 1024;

/// The longest an old page image stays in the WAL when the server is
/// quiet (data changed outside a purge, e.g. an e-mail removed, is gone
/// from the files after this; D2), unless an outside reader pins the log.
const WAL_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(10);

/// After a WAL reset, SQLite cuts the file back to this size; a backstop
/// for when a truncating checkpoint cannot run.
const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// The size of the write-ahead log, 0 if there is none.
pub(super) fn wal_size(path: &str) -> u64 {
    std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len())
}

/// Copies the WAL into the database file in the background, and cuts it
/// back to zero bytes when it has grown or aged, so it stays bounded under
/// steady traffic. The writer wakes it after a commit that left the WAL
/// past [`WAL_SOFT_LIMIT`] ([`Checkpointer::waker`]); otherwise it looks
/// every [`CHECKPOINT_TICK`]. Stops (and is joined) when dropped.
///
/// Why two steps: a non-blocking (PASSIVE) checkpoint copies only frames
/// no one still needs, and under steady traffic new frames arrive faster
/// than it finishes, so on its own it never lets SQLite restart the log:
/// the review measured 3.0 GB after two minutes. So after copying most of
/// it without blocking anyone, the checkpointer takes one turn at the
/// writer between two batches (`GroupCommit::between_batches`) and runs a
/// TRUNCATE checkpoint there, with no busy wait: if an outside reader
/// (a backup, an analyst's `sqlite3`) still reads old frames, the turn
/// ends at once and the log is cut at a later tick instead of the desk
/// waiting for the reader.
pub(crate) struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Wakes the checkpointer when a commit has left the WAL large.
#[derive(Clone)]
pub(crate) struct CheckpointWaker {
    path: String,
    wake: std::sync::mpsc::SyncSender<()>,
}

impl CheckpointWaker {
    /// After a commit: a look at the WAL's size (one `stat`), and a wake-up
    /// if it is past the limit.
    pub(crate) fn after_commit(&self) {
        if wal_size(&self.path) > WAL_SOFT_LIMIT {
            // Full means a wake-up is already on its way.
            let _ = self.wake.try_send(());
        }
    }
}

impl Checkpointer {
    pub(super) fn start(
        path: &str,
        synchronous: Synchronous,
        writer: std::sync::Arc<super::group_commit::GroupCommit>,
    ) -> Result<Checkpointer, Error> {
        let conn = connect(path, synchronous)?;
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(error)?;
        let path = path.to_string();
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("carrel-checkpoint".into())
            .spawn(move || {
                let mut last_cut = std::time::Instant::now();
                let mut blocked_since: Option<std::time::Instant> = None;
                let mut warned_at: Option<std::time::Instant> = None;
                loop {
                    let _ = woken.recv_timeout(CHECKPOINT_TICK);
                    if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let size = wal_size(&path);
                    let due = size > WAL_SOFT_LIMIT
                        || (size > 0 && last_cut.elapsed() >= WAL_MAX_AGE);
                    if !due {
                        continue;
                    }
                    copy_most_of_the_wal(&conn);
                    // A purge between its transactions bounds the WAL
                    // itself; queueing here would end its transactions
                    // early, as a desk request does.
                    if writer.long_transaction_running() {
                        continue;
                    }
                    match writer.between_batches(cut_wal) {
                        Ok(true) => {
                            last_cut = std::time::Instant::now();
                            blocked_since = None;
                        }
                        Ok(false) => {
                            let since = *blocked_since.get_or_insert_with(std::time::Instant::now);
                            // Under a busy desk the log grows tens of MB a
                            // second while it cannot be cut: say so early
                            // when it is large, in any case after a minute.
                            let large = wal_size(&path) > WAL_WORTH_A_WARNING;
                            let long = since.elapsed() >= std::time::Duration::from_secs(60)
                                || (large && since.elapsed() >= std::time::Duration::from_secs(10));
                            let quiet = warned_at.is_none_or(|w| w.elapsed() >= std::time::Duration::from_secs(300));
                            if long && quiet {
                                warned_at = Some(std::time::Instant::now());
                                tracing::warn!(
                                    wal_mib = wal_size(&path) / (1024 * 1024),
                                    blocked_seconds = since.elapsed().as_secs(),
                                    "for over a minute another program has kept the write-ahead log from being cut (a long read: a backup, an analyst's sqlite3; or writes of its own), so it keeps growing; the desk is not slowed, but end long outside reads (for a backup, `sqlite3 DB \".backup FILE\"` is quick)"
                                );
                            }
                        }
                        Err(e) => {
                            static FAILED: crate::quiet_log::NowAndThen =
                                crate::quiet_log::NowAndThen::new();
                            if let Some(held_back) = FAILED.due() {
                                tracing::warn!(error = %e, held_back, "WAL checkpoint failed; will retry");
                            }
                            // A full or failing disk: every commit would
                            // wake this thread to fail again.
                            std::thread::sleep(CHECKPOINT_BACKOFF);
                            while woken.try_recv().is_ok() {}
                        }
                    }
                }
                // Last one on the way out, so the file is complete on disk.
                let _ = writer.between_batches(cut_wal);
            })
            .map_err(|e| Error::internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            wake,
            stop,
            thread: Some(thread),
        })
    }

    /// What the writer calls after each commit.
    pub(super) fn waker(&self, path: &str) -> CheckpointWaker {
        CheckpointWaker {
            path: path.to_string(),
            wake: self.wake.clone(),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.wake.try_send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A WAL this large that cannot be cut is worth a warning after 10 s.
const WAL_WORTH_A_WARNING: u64 = 256 * 1024 * 1024;

/// Copies what it can of the WAL without blocking anyone, so the turn at
/// the writer that follows copies only a little. A large log (after an
/// outside reader let go) is copied over several passes while writes go
/// on; an ordinary one in one pass, since each pass also syncs the
/// database file, competing with the desk's commits for the disk.
fn copy_most_of_the_wal(conn: &Connection) {
    for _ in 0..4 {
        let pass = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match pass {
            // (frames in the log, frames copied): again while a large
            // part is left (64 MiB of 4 KiB pages).
            Ok((log, copied)) if log - copied > 16_384 => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(error = %e, "WAL copy skipped; will retry");
                return;
            }
        }
    }
}

/// On the writer's connection, between batches: copies the rest of the WAL
/// into the database file and cuts the WAL to zero bytes, so no old page
/// image survives in it (D2). Never waits: returns `false` at once if an
/// outside reader still needs the log, or another program holds the write
/// lock.
pub(super) fn cut_wal(conn: &Connection) -> Result<bool, Error> {
    conn.busy_timeout(std::time::Duration::ZERO)
        .map_err(error)?;
    let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
    match busy {
        Ok(busy) => Ok(busy == 0),
        Err(e) if is_busy(&e) => Ok(false),
        Err(e) => Err(error(e)),
    }
}

/// Copies what it can of the WAL into the database file without blocking
/// anyone, on a connection of its own: done before [`cut_wal`], so the
/// desk waits only for the remainder.
pub(super) fn copy_wal_passively(path: &str, synchronous: Synchronous) -> Result<(), Error> {
    let conn = connect(path, synchronous)?;
    conn.busy_timeout(std::time::Duration::ZERO)
        .map_err(error)?;
    copy_most_of_the_wal(&conn);
    Ok(())
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

pub(super) fn batch(conn: &Connection, sql: &str) -> Result<(), Error> {
    in_transaction(conn)?;
    conn.execute_batch(sql).map_err(error)
}

pub(super) fn execute(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
    in_transaction(conn)?;
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    let changed = stmt
        .execute(rusqlite::params_from_iter(params.iter()))
        .map_err(error)?;
    Ok(changed as u64)
}

pub(super) fn query(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
    in_transaction(conn)?;
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    let columns = stmt.column_count();
    let names: std::sync::Arc<[String]> = stmt
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
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
        out.push(Row::new(names.clone(), values));
    }
    Ok(out)
}

/// SQLite's messages name tables and constraints, never values, so they are
/// safe to log; they are still not shown to users.
pub(super) fn error(e: rusqlite::Error) -> Error {
    Failure::from(e).into_error()
}

/// A SQLite failure, kept (unlike `rusqlite::Error`) so it can be handed to
/// every operation of a batch whose COMMIT failed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    kind: FailureKind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    /// Another program holds the database's write lock for longer than
    /// Carrel waits (`BUSY_TIMEOUT`).
    Busy,
    /// The disk is full.
    Full,
    /// A read or write of the files failed (a failing disk; a file size
    /// limit).
    Io,
    /// A unique index refused the row (SQLite has one writer, so only a
    /// check Carrel did not make, or made wrongly, can get here).
    Unique,
    Other,
}

impl Failure {
    pub(crate) fn other(message: &str) -> Failure {
        Failure {
            kind: FailureKind::Other,
            message: message.to_string(),
        }
    }

    /// SQLite rolled the whole transaction back by itself (after a full
    /// disk or an I/O error): every operation in it is lost.
    pub(crate) fn rolled_back() -> Failure {
        Failure::other("SQLite rolled the transaction back after a failed write")
    }

    pub(crate) fn into_error(self) -> Error {
        match self.kind {
            FailureKind::Busy => Error::Busy,
            FailureKind::Full => Error::DiskFull,
            FailureKind::Io => Error::WriteFailed,
            // "UNIQUE constraint failed: patrons.card_barcode": the
            // columns, never the values.
            FailureKind::Unique => Error::Conflict {
                what: self
                    .message
                    .rsplit(": ")
                    .next()
                    .unwrap_or("a unique index")
                    .to_string(),
            },
            FailureKind::Other => Error::Database(format!("sqlite: {}", self.message)),
        }
    }
}

/// Whether another connection holds what this one needed.
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        let kind = if is_busy(&e) {
            FailureKind::Busy
        } else if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            FailureKind::Full
        } else if e.sqlite_error_code() == Some(rusqlite::ErrorCode::SystemIoFailure) {
            FailureKind::Io
        } else if matches!(
            e.sqlite_error().map(|f| f.extended_code),
            Some(
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
        ) {
            FailureKind::Unique
        } else {
            FailureKind::Other
        };
        Failure {
            kind,
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every statement Carrel runs on the writer belongs to a transaction that
/// group commit opened. If SQLite has rolled it back on its own (after a
/// full disk or an I/O error), a statement would run in autocommit mode and
/// commit by itself, half an operation: refuse instead.
fn in_transaction(conn: &Connection) -> Result<(), Error> {
    if conn.is_autocommit() {
        return Err(Failure::other(
            "the transaction was rolled back by SQLite after a failed write; refusing to run a statement outside it",
        )
        .into_error());
    }
    Ok(())
}
