-- Progress rows per purge worker (see the PostgreSQL migration). SQLite has
-- one writer, so a purge there has one worker, part 0; the table is the
-- same on both engines. SQLite cannot change a primary key in place.
CREATE TABLE purge_progress_by_part (
    run_id INTEGER NOT NULL REFERENCES purge_runs(id),
    target TEXT NOT NULL,
    part INTEGER NOT NULL DEFAULT 0,
    destroyed INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER,
    PRIMARY KEY (run_id, target, part)
);
INSERT INTO purge_progress_by_part (run_id, target, destroyed, finished_at)
    SELECT run_id, target, destroyed, finished_at FROM purge_progress;
DROP TABLE purge_progress;
ALTER TABLE purge_progress_by_part RENAME TO purge_progress;
