-- A backlog purge on PostgreSQL runs in several workers, each over its own
-- ranges of keys (src/retention/mod.rs, Walk::Key). Each worker counts its
-- progress in its own row, so no worker waits for another's row lock; a
-- target's progress is the sum of its rows.
ALTER TABLE purge_progress ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
ALTER TABLE purge_progress DROP CONSTRAINT purge_progress_pkey;
ALTER TABLE purge_progress ADD PRIMARY KEY (run_id, target, part);
