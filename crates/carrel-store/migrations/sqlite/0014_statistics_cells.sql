-- Statistics keep one row per cell, in key order, and nothing of the
-- purge step that counted a record (D1, D3).
--
-- Before, each purge step appended its rows at the end of the table: the
-- rows of a step that destroyed one loan sat side by side in the file,
-- and said that one item was borrowed by someone of one card category and
-- age band. Now each step adds its counts to the cells in place
-- (retention::statistics::add_step): the table is a B-tree in key order,
-- so a cell's place in the file says nothing of when it grew, and
-- secure_delete zeroes what an update frees. (statistics_pending is
-- PostgreSQL's way, where an updated row moves; here it stays empty.)
CREATE TABLE statistics_cells (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    records INTEGER NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (record_class, month, dimensions)
) WITHOUT ROWID;
INSERT INTO statistics_cells (record_class, month, dimensions, records, amount)
SELECT record_class, month, dimensions, SUM(records), SUM(amount) FROM statistics
GROUP BY record_class, month, dimensions;
DROP TABLE statistics;
ALTER TABLE statistics_cells RENAME TO statistics;

CREATE TABLE statistics_pending (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    records INTEGER NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX statistics_pending_month ON statistics_pending (record_class, month);
