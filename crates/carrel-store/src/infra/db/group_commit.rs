//! Group commit for SQLite: many operations, one fsync.
//!
//! SQLite has one writer, and every Carrel request writes (its audit entry
//! at least). With `synchronous=FULL` each commit waits for the disk, so
//! committing every request on its own caps throughput at one request per
//! fsync. Here each operation runs in its own SAVEPOINT inside a shared
//! transaction (all or nothing, as before), and the last operation of a
//! burst commits them together. No caller is answered before the COMMIT
//! that makes its work durable has returned, so acknowledged work is never
//! lost; if that COMMIT fails, every operation in the batch fails.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{sqlite, Conn};
use crate::error::Error;
use crate::quiet_log::NowAndThen;

/// The most operations one batch holds before it is committed anyway, so
/// that a steady stream of requests cannot keep a batch open forever.
const MAX_BATCH: usize = 64;

struct Writer {
    conn: Connection,
    /// The open batch, if a batch transaction is open.
    batch: Option<Arc<Batch>>,
    /// Operations in the open batch.
    ops: usize,
}

/// One batch: the operations that share one COMMIT, and how it ended.
/// Each operation keeps its own batch (an `Arc`), so its outcome can never
/// be mistaken for another batch's or forgotten, however many batches end
/// while it waits. (An earlier version kept the last 64 failures in a
/// shared list; when more failed before a waiter woke, as they do on a full
/// disk, the waiter was told its batch had committed.)
struct Batch {
    outcome: Mutex<Option<Result<(), sqlite::Failure>>>,
    ended: Condvar,
}

impl Batch {
    fn new() -> Arc<Batch> {
        Arc::new(Batch {
            outcome: Mutex::new(None),
            ended: Condvar::new(),
        })
    }

    fn end(&self, result: Result<(), sqlite::Failure>) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        // The first ending is the true one (a batch ends once).
        if outcome.is_none() {
            *outcome = Some(result);
        }
        self.ended.notify_all();
    }

    /// Waits until the batch has ended. There is no timeout: a batch left
    /// open always has a writer that will end it (the operation that
    /// leaves it open does so only for a caller already queued for the
    /// writer, and every path through the writer ends or continues the
    /// batch), and answering "failed" for a batch that may still commit
    /// would be a second kind of lie.
    fn wait(&self) -> Result<(), sqlite::Failure> {
        let outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = self
            .ended
            .wait_while(outcome, |o| o.is_none())
            .unwrap_or_else(|p| p.into_inner());
        outcome
            .clone()
            .unwrap_or_else(|| Err(sqlite::Failure::other("the batch ended without an outcome")))
    }
}

pub(crate) struct GroupCommit {
    writer: Mutex<Writer>,
    /// Callers waiting for `writer`: while there are any, the batch is left
    /// open for them and the last of them commits.
    queued: AtomicUsize,
    /// How many COMMITs have run (for tests and diagnostics).
    commits: AtomicUsize,
    /// Whether a long transaction (`run_alone`) holds the writer.
    long_running: AtomicBool,
    /// Whether the last BEGIN found SQLite's write lock held by another
    /// program for longer than it could wait.
    outside_writer: AtomicBool,
    /// Told after every commit, so the WAL is cut as soon as it is large.
    after_commit: std::sync::OnceLock<sqlite::CheckpointWaker>,
}

impl GroupCommit {
    pub(crate) fn new(conn: Connection) -> GroupCommit {
        GroupCommit {
            writer: Mutex::new(Writer {
                conn,
                batch: None,
                ops: 0,
            }),
            queued: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            long_running: AtomicBool::new(false),
            outside_writer: AtomicBool::new(false),
            after_commit: std::sync::OnceLock::new(),
        }
    }

    /// Sets what is told after every commit (once; later calls are
    /// ignored).
    pub(crate) fn set_after_commit(&self, waker: sqlite::CheckpointWaker) {
        let _ = self.after_commit.set(waker);
    }

    fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        if let Some(waker) = self.after_commit.get() {
            waker.after_commit();
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        // The guard never crosses the operation (it is caught below), so a
        // poisoned lock can only come from a panic in this module's own
        // bookkeeping; the connection is still sound.
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.queued.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    /// Locks the writer with no batch open: commits a batch left open for
    /// callers waiting on it (they hear the outcome) first; another may
    /// open while the writer is released, so until none is.
    fn lock_writer_between_batches(&self) -> MutexGuard<'_, Writer> {
        let mut writer = self.lock_writer();
        while writer.batch.is_some() {
            let _ = self.commit_batch(writer);
            writer = self.lock_writer();
        }
        if !writer.conn.is_autocommit() {
            // Never continue a transaction someone else left behind.
            let _ = writer.conn.execute_batch("ROLLBACK");
        }
        writer
    }

    /// Runs `f` as one all-or-nothing operation, durable when this returns Ok.
    pub(crate) fn run<T>(&self, f: impl FnOnce(Conn<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let arrived = Instant::now();
        let mut writer = self.lock_writer();
        if writer.batch.is_none() {
            if !writer.conn.is_autocommit() {
                // Never continue a transaction someone else left behind.
                let _ = writer.conn.execute_batch("ROLLBACK");
            }
            // Another program may hold SQLite's write lock. Wait for it
            // only what is left of this operation's budget: callers queued
            // behind one that waited in vain would otherwise each wait the
            // whole timeout in turn (the review: 29.5 s, not 5).
            // And once one has waited in vain, the next only try, until a
            // BEGIN gets through: the writer's mutex is not first come,
            // first served, so a caller could otherwise lose it to newer
            // ones, each waiting its whole budget (the review: 10 s).
            let left = if self.outside_writer.load(Ordering::SeqCst) {
                Duration::ZERO
            } else {
                sqlite::BUSY_TIMEOUT.saturating_sub(arrived.elapsed())
            };
            writer.conn.busy_timeout(left).map_err(sqlite::error)?;
            let began = writer.conn.execute_batch("BEGIN IMMEDIATE");
            self.outside_writer
                .store(began.as_ref().is_err_and(sqlite::is_busy), Ordering::SeqCst);
            began.map_err(sqlite::error)?;
            writer.batch = Some(Batch::new());
            writer.ops = 0;
        }
        let Some(batch) = writer.batch.clone() else {
            return Err(Error::internal("no batch is open"));
        };
        let outcome = match writer.conn.execute_batch("SAVEPOINT operation") {
            Ok(()) => {
                let conn = &mut writer.conn;
                catch_unwind(AssertUnwindSafe(|| f(Conn::Sqlite(conn))))
            }
            Err(e) => Ok(Err(sqlite::error(e))),
        };
        // SQLite rolls the whole transaction back by itself after some
        // failures (a full disk, an I/O error): then the batch is lost,
        // whatever this operation returned.
        let closed = if writer.conn.is_autocommit() {
            Err(sqlite::Failure::rolled_back())
        } else if matches!(outcome, Ok(Ok(_))) {
            writer
                .conn
                .execute_batch("RELEASE operation")
                .map_err(sqlite::Failure::from)
        } else {
            writer
                .conn
                .execute_batch("ROLLBACK TO operation; RELEASE operation")
                .map_err(sqlite::Failure::from)
        };
        if let Err(failure) = closed {
            // The savepoint is gone or in an unknown state: abandon the
            // whole batch rather than risk committing half an operation.
            static CLOSE_FAILED: NowAndThen = NowAndThen::new();
            if let Some(held_back) = CLOSE_FAILED.due() {
                tracing::error!(error = %failure, held_back, "an operation could not be closed; rolling its batch back");
            }
            if !writer.conn.is_autocommit() {
                let _ = writer.conn.execute_batch("ROLLBACK");
            }
            writer.batch = None;
            drop(writer);
            batch.end(Err(failure.clone()));
            return match outcome {
                Err(panic) => resume_unwind(panic),
                Ok(_) => Err(failure.into_error()),
            };
        }
        writer.ops += 1;

        let committed = if self.queued.load(Ordering::SeqCst) == 0 || writer.ops >= MAX_BATCH {
            self.commit_batch(writer)
        } else {
            drop(writer);
            batch.wait()
        };
        match outcome {
            Err(panic) => resume_unwind(panic),
            Ok(result) => {
                let value = result?;
                committed.map_err(|failure| {
                    static COMMIT_FAILED: NowAndThen = NowAndThen::new();
                    if let Some(held_back) = COMMIT_FAILED.due() {
                        tracing::error!(error = %failure, held_back, "commit failed");
                    }
                    failure.into_error()
                })?;
                Ok(value)
            }
        }
    }

    /// Runs `f` as one transaction of its own, outside any batch: for long
    /// work (a retention purge) that should neither share a commit with
    /// desk operations nor pay for a savepoint. `f` is handed a probe that
    /// says whether another operation is waiting for the writer, so it can
    /// end its transaction early and let it in. The transaction gets a page
    /// cache of `cache_kib` KiB. With a `budget`, the probe also says yes
    /// once the transaction has run that long: for a purge beside a server
    /// in another process, whose waiting requests it cannot see. Durable
    /// when this returns Ok; all or nothing.
    pub(crate) fn run_alone<T>(
        &self,
        cache_kib: u64,
        budget: Option<Duration>,
        f: impl FnOnce(Conn<'_>, &dyn Fn() -> bool) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut writer = self.lock_writer_between_batches();
        writer
            .conn
            .busy_timeout(sqlite::BUSY_TIMEOUT)
            .map_err(sqlite::error)?;
        // Cleared however the transaction ends, a panic included.
        struct Running<'a>(&'a AtomicBool);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        self.long_running.store(true, Ordering::SeqCst);
        let _running = Running(&self.long_running);
        self.run_alone_locked(&mut writer, cache_kib, budget, f)
    }

    /// Whether a long transaction (a purge) holds the writer now.
    pub(crate) fn long_transaction_running(&self) -> bool {
        self.long_running.load(Ordering::SeqCst)
    }

    fn run_alone_locked<T>(
        &self,
        writer: &mut MutexGuard<'_, Writer>,
        cache_kib: u64,
        budget: Option<Duration>,
        f: impl FnOnce(Conn<'_>, &dyn Fn() -> bool) -> Result<T, Error>,
    ) -> Result<T, Error> {
        // The page cache is set before BEGIN and put back after the
        // transaction, whatever its outcome.
        writer
            .conn
            .execute_batch(&format!("PRAGMA cache_size = -{cache_kib}"))
            .map_err(sqlite::error)?;
        writer
            .conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sqlite::error)?;
        let started = Instant::now();
        let waiting = || {
            self.queued.load(Ordering::SeqCst) > 0 || budget.is_some_and(|b| started.elapsed() >= b)
        };
        let conn = &mut writer.conn;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(Conn::Sqlite(conn), &waiting)));
        let finished = if writer.conn.is_autocommit() {
            Err(sqlite::Failure::rolled_back())
        } else {
            match &outcome {
                Ok(Ok(_)) => writer
                    .conn
                    .execute_batch("COMMIT")
                    .map_err(sqlite::Failure::from),
                _ => writer
                    .conn
                    .execute_batch("ROLLBACK")
                    .map_err(sqlite::Failure::from),
            }
        };
        if finished.is_err() && !writer.conn.is_autocommit() {
            let _ = writer.conn.execute_batch("ROLLBACK");
        }
        self.committed();
        if let Err(e) = writer
            .conn
            .execute_batch(&format!("PRAGMA cache_size = -{}", sqlite::CACHE_KIB))
        {
            tracing::warn!(error = %e, "could not restore the page cache size");
        }
        match outcome {
            Err(panic) => resume_unwind(panic),
            Ok(result) => {
                let value = result?;
                if let Err(failure) = finished {
                    tracing::error!(error = %failure, "commit failed");
                    return Err(failure.into_error());
                }
                Ok(value)
            }
        }
    }

    /// Runs `f` on the writer's connection with no transaction open, in
    /// its turn like any operation: for the checkpoints that must not
    /// overlap a write (see `sqlite::checkpoint_on_writer`).
    pub(crate) fn between_batches<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let writer = self.lock_writer_between_batches();
        f(&writer.conn)
    }

    /// Commits the open batch, releases the writer and tells the batch's
    /// callers how it went.
    fn commit_batch(&self, mut writer: MutexGuard<'_, Writer>) -> Result<(), sqlite::Failure> {
        let Some(batch) = writer.batch.take() else {
            return Ok(());
        };
        let result = writer
            .conn
            .execute_batch("COMMIT")
            .map_err(sqlite::Failure::from);
        if result.is_err() && !writer.conn.is_autocommit() {
            let _ = writer.conn.execute_batch("ROLLBACK");
        }
        drop(writer);
        self.committed();
        batch.end(result.clone());
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::params;

    fn writer(name: &str) -> (Arc<GroupCommit>, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("carrel-gc-{name}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let conn = sqlite::open(path.to_str().unwrap(), super::super::Synchronous::Full).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        (Arc::new(GroupCommit::new(conn)), path)
    }

    fn count(path: &std::path::Path) -> i64 {
        let other = Connection::open(path).unwrap();
        other
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_panicking_or_failing_operation_leaves_nothing_behind() {
        let (gc, path) = writer("panic");
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            gc.run(|mut conn| -> Result<(), Error> {
                conn.execute("INSERT INTO t (v) VALUES ('half-written')", params![])?;
                panic!("boom");
            })
        }));
        assert!(panicked.is_err());
        let failed = gc.run(|mut conn| -> Result<(), Error> {
            conn.execute("INSERT INTO t (v) VALUES ('also half-written')", params![])?;
            Err(Error::refused("no", "refused after writing"))
        });
        assert!(failed.is_err());
        gc.run(|mut conn| conn.execute("INSERT INTO t (v) VALUES ('whole')", params![]))
            .unwrap();
        // Committed, and visible to another connection, as soon as run returns.
        assert_eq!(count(&path), 1);
        let _ = std::fs::remove_file(&path);
    }

    fn cache_size(gc: &GroupCommit) -> i64 {
        gc.run(|conn| match conn {
            Conn::Sqlite(c) => Ok(c
                .query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0))
                .unwrap()),
            Conn::Postgres(_) => unreachable!(),
        })
        .unwrap()
    }

    /// A long transaction (a purge) learns that a desk operation is
    /// waiting, ends, and the operation then runs; what both wrote is
    /// committed. Its larger page cache is put back afterwards.
    #[test]
    fn a_long_transaction_yields_to_a_waiting_operation() {
        let (gc, path) = writer("long");
        let started = Arc::new(std::sync::Barrier::new(2));
        let desk = {
            let (gc, started) = (gc.clone(), started.clone());
            std::thread::spawn(move || {
                started.wait();
                gc.run(|mut conn| conn.execute("INSERT INTO t (v) VALUES ('desk')", params![]))
                    .unwrap();
            })
        };
        let steps = gc
            .run_alone(256 * 1024, None, |mut conn, desk_waiting| {
                started.wait();
                let mut steps: i64 = 0;
                // Steps until the desk waits (bounded, so a broken probe
                // fails the test instead of hanging it).
                while !desk_waiting() && steps < 10_000 {
                    conn.execute("INSERT INTO t (v) VALUES ('purge step')", params![])?;
                    steps += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(steps)
            })
            .unwrap();
        desk.join().unwrap();
        assert!(steps < 10_000, "the long transaction saw the desk waiting");
        assert_eq!(
            count(&path),
            steps + 1,
            "both the steps and the desk's write are committed"
        );
        assert_eq!(
            cache_size(&gc),
            -(sqlite::CACHE_KIB as i64),
            "the purge's page cache is put back"
        );
        let _ = std::fs::remove_file(&path);
    }

    /// A failed long transaction leaves nothing behind, and what was
    /// committed before it stays.
    #[test]
    fn a_failed_long_transaction_rolls_back_alone() {
        let (gc, path) = writer("long-fail");
        gc.run(|mut conn| conn.execute("INSERT INTO t (v) VALUES ('before')", params![]))
            .unwrap();
        let failed = gc.run_alone(128 * 1024, None, |mut conn, _| -> Result<(), Error> {
            conn.execute("INSERT INTO t (v) VALUES ('half a purge')", params![])?;
            Err(Error::internal("the purge failed part-way"))
        });
        assert!(failed.is_err());
        assert_eq!(count(&path), 1);
        assert_eq!(cache_size(&gc), -(sqlite::CACHE_KIB as i64));
        let _ = std::fs::remove_file(&path);
    }

    /// Commits that fail (an injected I/O error, as a full disk gives)
    /// while 32 threads write: every write a caller was told succeeded is
    /// in the database, and no write a caller was told failed is. The
    /// review found acknowledged checkouts missing when the disk filled.
    #[test]
    fn no_caller_is_told_done_for_a_write_whose_commit_failed() {
        let (gc, path) = writer("failing-commits");
        // Nine COMMITs in ten fail, as SQLite reports a failed write.
        let commits = Arc::new(AtomicUsize::new(0));
        {
            let commits = commits.clone();
            let writer = gc.writer.lock().unwrap();
            writer.conn.commit_hook(Some(move || {
                !commits.fetch_add(1, Ordering::SeqCst).is_multiple_of(10)
            }));
        }
        let threads: Vec<_> = (0..32)
            .map(|t| {
                let gc = gc.clone();
                std::thread::spawn(move || {
                    let mut told_done = Vec::new();
                    let mut told_failed = Vec::new();
                    for i in 0..150 {
                        let value = format!("{t}-{i}");
                        let result = gc.run(|mut conn| {
                            conn.execute("INSERT INTO t (v) VALUES (?)", params![value.as_str()])
                        });
                        match result {
                            Ok(_) => told_done.push(value),
                            Err(_) => told_failed.push(value),
                        }
                    }
                    (told_done, told_failed)
                })
            })
            .collect();
        let other = Connection::open(&path).unwrap();
        let present = |v: &str| -> bool {
            other
                .query_row("SELECT COUNT(*) FROM t WHERE v = ?1", [v], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
                == 1
        };
        let (mut done, mut failed) = (0, 0);
        for thread in threads {
            let (told_done, told_failed) = thread.join().unwrap();
            for v in &told_done {
                assert!(
                    present(v),
                    "a caller was told its write committed, but it is not in the database"
                );
            }
            for v in &told_failed {
                assert!(
                    !present(v),
                    "a caller was told its write failed, but it committed"
                );
            }
            done += told_done.len();
            failed += told_failed.len();
        }
        assert!(
            failed > 0 && done > 0,
            "commits both failed and succeeded: {done} done, {failed} failed"
        );
        assert_eq!(count(&path), done as i64);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn concurrent_operations_share_commits_and_only_successes_persist() {
        let (gc, path) = writer("concurrent");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let gc = gc.clone();
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut succeeded = 0;
                    for i in 0..50 {
                        let fail = (t + i) % 5 == 0;
                        let result = gc.run(|mut conn| {
                            conn.execute(
                                "INSERT INTO t (v) VALUES (?)",
                                params![format!("{t}-{i}").as_str()],
                            )?;
                            if fail {
                                Err(Error::refused("no", "refused"))
                            } else {
                                Ok(())
                            }
                        });
                        if result.is_ok() {
                            succeeded += 1;
                            // Durable before the caller hears of it.
                            let other = Connection::open(&path).unwrap();
                            let seen: i64 = other
                                .query_row(
                                    "SELECT COUNT(*) FROM t WHERE v = ?1",
                                    [format!("{t}-{i}")],
                                    |r| r.get(0),
                                )
                                .unwrap();
                            assert_eq!(seen, 1);
                        }
                    }
                    succeeded
                })
            })
            .collect();
        let succeeded: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(count(&path), succeeded);
        assert_eq!(succeeded, 8 * 50 - 80);
        let commits = gc.commits.load(Ordering::Relaxed);
        assert!(
            commits < 400,
            "operations were grouped: {commits} commits for 400 operations"
        );
        let _ = std::fs::remove_file(&path);
    }
}
