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

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use super::{sqlite, Conn};
use crate::error::Error;

/// The most operations one batch holds before it is committed anyway, so
/// that a steady stream of requests cannot keep a batch open forever.
const MAX_BATCH: usize = 64;

/// How long a caller waits for its batch's COMMIT before giving up.
const COMMIT_WAIT: Duration = Duration::from_secs(60);

struct Writer {
    conn: Connection,
    /// Whether a batch transaction is open.
    open: bool,
    /// The id of the open (or last) batch.
    batch: u64,
    /// Operations in the open batch.
    ops: usize,
}

/// Which batches have finished, and how the recent failures failed.
struct Outcomes {
    done_through: u64,
    failures: VecDeque<(u64, String)>,
}

pub(crate) struct GroupCommit {
    writer: Mutex<Writer>,
    /// Callers waiting for `writer`: while there are any, the batch is left
    /// open for them and the last of them commits.
    queued: AtomicUsize,
    /// How many COMMITs have run (for tests and diagnostics).
    commits: AtomicUsize,
    outcomes: Mutex<Outcomes>,
    finished: Condvar,
}

impl GroupCommit {
    pub(crate) fn new(conn: Connection) -> GroupCommit {
        GroupCommit {
            writer: Mutex::new(Writer {
                conn,
                open: false,
                batch: 0,
                ops: 0,
            }),
            queued: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            outcomes: Mutex::new(Outcomes {
                done_through: 0,
                failures: VecDeque::new(),
            }),
            finished: Condvar::new(),
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

    /// Runs `f` as one all-or-nothing operation, durable when this returns Ok.
    pub(crate) fn run<T>(&self, f: impl FnOnce(Conn<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let mut writer = self.lock_writer();
        if !writer.open {
            if !writer.conn.is_autocommit() {
                // Never continue a transaction someone else left behind.
                let _ = writer.conn.execute_batch("ROLLBACK");
            }
            writer
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(sqlite::error)?;
            writer.open = true;
            writer.ops = 0;
            writer.batch += 1;
        }
        let batch = writer.batch;
        let outcome = match writer.conn.execute_batch("SAVEPOINT operation") {
            Ok(()) => {
                let conn = &mut writer.conn;
                catch_unwind(AssertUnwindSafe(|| f(Conn::Sqlite(conn))))
            }
            Err(e) => Ok(Err(sqlite::error(e))),
        };
        let undo = !matches!(outcome, Ok(Ok(_)));
        let closed = if undo {
            writer
                .conn
                .execute_batch("ROLLBACK TO operation; RELEASE operation")
        } else {
            writer.conn.execute_batch("RELEASE operation")
        };
        if let Err(e) = closed {
            // The savepoint is in an unknown state: abandon the whole batch
            // rather than risk committing half an operation.
            tracing::error!(error = %e, "savepoint could not be closed; rolling the batch back");
            let _ = writer.conn.execute_batch("ROLLBACK");
            writer.open = false;
            drop(writer);
            self.publish(batch, Err("the batch was rolled back".into()));
            return match outcome {
                Err(panic) => resume_unwind(panic),
                Ok(_) => Err(sqlite::error(e)),
            };
        }
        writer.ops += 1;

        let committed = if self.queued.load(Ordering::SeqCst) == 0 || writer.ops >= MAX_BATCH {
            self.commit_batch(writer)
        } else {
            drop(writer);
            self.wait_for(batch)
        };
        match outcome {
            Err(panic) => resume_unwind(panic),
            Ok(result) => {
                let value = result?;
                committed.map_err(|e| {
                    tracing::error!(error = %e, "commit failed");
                    Error::Database(format!("sqlite: commit failed: {e}"))
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
    /// cache of `cache_kib` KiB. Durable when this returns Ok; all or
    /// nothing.
    pub(crate) fn run_alone<T>(
        &self,
        cache_kib: u64,
        f: impl FnOnce(Conn<'_>, &dyn Fn() -> bool) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut writer = self.lock_writer();
        // A batch left open for callers waiting on it: commit it for them
        // (they hear the outcome) before starting; another may open while
        // the writer is released, so until none is.
        while writer.open {
            let _ = self.commit_batch(writer);
            writer = self.lock_writer();
        }
        if !writer.conn.is_autocommit() {
            let _ = writer.conn.execute_batch("ROLLBACK");
        }
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
        let waiting = || self.queued.load(Ordering::SeqCst) > 0;
        let conn = &mut writer.conn;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(Conn::Sqlite(conn), &waiting)));
        let finished = match &outcome {
            Ok(Ok(_)) => writer.conn.execute_batch("COMMIT"),
            _ => writer.conn.execute_batch("ROLLBACK"),
        };
        self.commits.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = writer
            .conn
            .execute_batch(&format!("PRAGMA cache_size = -{}", sqlite::CACHE_KIB))
        {
            tracing::warn!(error = %e, "could not restore the page cache size");
        }
        match outcome {
            Err(panic) => {
                let _ = finished;
                resume_unwind(panic)
            }
            Ok(result) => {
                let value = result?;
                if let Err(e) = finished {
                    let _ = writer.conn.execute_batch("ROLLBACK");
                    tracing::error!(error = %e, "commit failed");
                    return Err(Error::Database(format!("sqlite: commit failed: {e}")));
                }
                Ok(value)
            }
        }
    }

    /// Commits the open batch, releases the writer and tells the batch's
    /// callers how it went.
    fn commit_batch(&self, mut writer: MutexGuard<'_, Writer>) -> Result<(), String> {
        let batch = writer.batch;
        let result = writer.conn.execute_batch("COMMIT").map_err(|e| {
            let _ = writer.conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        writer.open = false;
        drop(writer);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.publish(batch, result.clone());
        result
    }

    fn publish(&self, batch: u64, result: Result<(), String>) {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        outcomes.done_through = outcomes.done_through.max(batch);
        if let Err(e) = result {
            outcomes.failures.push_back((batch, e));
            while outcomes.failures.len() > 64 {
                outcomes.failures.pop_front();
            }
        }
        self.finished.notify_all();
    }

    fn wait_for(&self, batch: u64) -> Result<(), String> {
        let outcomes = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        let (outcomes, timeout) = self
            .finished
            .wait_timeout_while(outcomes, COMMIT_WAIT, |o| o.done_through < batch)
            .unwrap_or_else(|p| p.into_inner());
        if timeout.timed_out() {
            return Err("the batch was not committed in time".into());
        }
        match outcomes.failures.iter().find(|(b, _)| *b == batch) {
            Some((_, e)) => Err(e.clone()),
            None => Ok(()),
        }
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
            .run_alone(256 * 1024, |mut conn, desk_waiting| {
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
        let failed = gc.run_alone(128 * 1024, |mut conn, _| -> Result<(), Error> {
            conn.execute("INSERT INTO t (v) VALUES ('half a purge')", params![])?;
            Err(Error::internal("the purge failed part-way"))
        });
        assert!(failed.is_err());
        assert_eq!(count(&path), 1);
        assert_eq!(cache_size(&gc), -(sqlite::CACHE_KIB as i64));
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
