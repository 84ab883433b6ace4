-- Statistics facets (D3): a loan is now counted once under its item and once
-- under its borrower's category and age band, never under both together, so
-- no stored cell says what kind of borrower took an item. Cells written
-- before are split the same way.
--
-- The table becomes WITHOUT ROWID: cells are only ever found by their key,
-- and a purge upserts one per destroyed loan, so one B-tree instead of a
-- table plus its key index halves that work.
CREATE TABLE statistics_facets (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    records INTEGER NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (record_class, month, dimensions)
) WITHOUT ROWID;

INSERT INTO statistics_facets (record_class, month, dimensions, records, amount)
SELECT record_class, month, dimensions, records, amount FROM statistics
WHERE NOT (record_class = 'circulation' AND dimensions LIKE 'item=%;category=%');

INSERT INTO statistics_facets (record_class, month, dimensions, records, amount)
SELECT record_class, month, substr(dimensions, 1, instr(dimensions, ';') - 1), SUM(records), SUM(amount)
FROM statistics WHERE record_class = 'circulation' AND dimensions LIKE 'item=%;category=%'
GROUP BY 1, 2, 3;

INSERT INTO statistics_facets (record_class, month, dimensions, records, amount)
SELECT record_class, month, substr(dimensions, instr(dimensions, ';') + 1), SUM(records), SUM(amount)
FROM statistics WHERE record_class = 'circulation' AND dimensions LIKE 'item=%;category=%'
GROUP BY 1, 2, 3;

DROP TABLE statistics;
ALTER TABLE statistics_facets RENAME TO statistics;

-- A fine outlives the loan it was for (each has its own clock): when a loan
-- is destroyed, the fine's link to it goes in the same step, by the foreign
-- key itself rather than a separate UPDATE probing fines for every loan.
CREATE TABLE fines_unlinked (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER REFERENCES patrons(id),
    loan_id INTEGER REFERENCES loans(id) ON DELETE SET NULL,
    amount_cents INTEGER NOT NULL,
    reason TEXT NOT NULL,
    assessed_at INTEGER NOT NULL,
    paid_cents INTEGER NOT NULL DEFAULT 0,
    waived_cents INTEGER NOT NULL DEFAULT 0,
    settled_at INTEGER
);
INSERT INTO fines_unlinked (id, patron_id, loan_id, amount_cents, reason, assessed_at, paid_cents, waived_cents, settled_at)
SELECT id, patron_id, loan_id, amount_cents, reason, assessed_at, paid_cents, waived_cents, settled_at FROM fines;
DROP TABLE fines;
ALTER TABLE fines_unlinked RENAME TO fines;
CREATE INDEX fines_patron_open ON fines(patron_id, settled_at);
CREATE INDEX fines_settled ON fines(settled_at, id);
CREATE INDEX fines_loan ON fines(loan_id);
