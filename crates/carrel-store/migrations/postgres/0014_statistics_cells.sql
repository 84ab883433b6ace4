-- Statistics keep one row per cell, and nothing of the purge step that
-- counted a record (D1, D3).
--
-- Before, each purge step appended its rows at the end of the table: the
-- rows of a step that destroyed one loan sat side by side in the table's
-- pages, and said that one item was borrowed by someone of one card
-- category and age band. Now a step writes to statistics_pending, and when
-- the purge is done with the class, Carrel rewrites every month the
-- pending rows touch, all its cells, in key order
-- (retention::statistics::merge_pending): the month's rows are written
-- together, so no cell's place says which grew. (Updating cells in place
-- would not do: PostgreSQL writes an updated row at the end of the
-- table, next to the other cells the same purge updated.) The purge then
-- VACUUMs both tables.
CREATE TABLE statistics_cells (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    records BIGINT NOT NULL,
    amount BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (record_class, month, dimensions)
);
INSERT INTO statistics_cells (record_class, month, dimensions, records, amount)
SELECT record_class, month, dimensions, SUM(records), SUM(amount) FROM statistics
GROUP BY record_class, month, dimensions
ORDER BY record_class, month, dimensions;
DROP TABLE statistics;
ALTER TABLE statistics_cells RENAME TO statistics;
ALTER TABLE statistics RENAME CONSTRAINT statistics_cells_pkey TO statistics_pkey;

CREATE TABLE statistics_pending (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    records BIGINT NOT NULL,
    amount BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX statistics_pending_month ON statistics_pending (record_class, month);
