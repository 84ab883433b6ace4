-- Statistics keep one row per cell, in key order, and nothing of the
-- purge step that counted a record (D1, D3).
--
-- Before, each purge step appended its rows at the end of the table: the
-- rows of a step that destroyed one loan sat side by side in the file,
-- and said that one item was borrowed by someone of one card category and
-- age band. Now a step writes to statistics_pending, and when the purge
-- is done with the class, Carrel rewrites every month the pending rows
-- touch, cell by cell, in key order (retention::statistics::merge_pending):
-- no cell's place or neighbours say when, or with which others, it grew.
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
