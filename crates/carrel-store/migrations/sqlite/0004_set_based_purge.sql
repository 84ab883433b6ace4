-- The functions PostgreSQL gets in this step (carrel_local_date,
-- carrel_age_band) are registered by Carrel on each SQLite connection
-- (src/db/functions.rs).
--
-- Statistics rows are appended by each purge step and added up by reports
-- (see add_step in src/retention/statistics.rs): no key to merge on, an
-- index for reports, which read one class over a range of months. A rowid
-- table, so appended rows go to the end of its B-tree.
CREATE TABLE statistics_rows (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    records INTEGER NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0
);
INSERT INTO statistics_rows (record_class, month, dimensions, records, amount)
SELECT record_class, month, dimensions, records, amount FROM statistics;
DROP TABLE statistics;
ALTER TABLE statistics_rows RENAME TO statistics;
CREATE INDEX statistics_month ON statistics (record_class, month);

-- A loan records its borrower's card category and age band on the day it
-- is made (declared fields, purpose "statistics"), so the purge counts it
-- as the borrower was then, without looking the patron up. Loans made
-- before this step are filled in by Carrel right after it (the age band
-- needs the library's time zone, which only the policy file knows).
ALTER TABLE loans ADD COLUMN borrower_category TEXT;
ALTER TABLE loans ADD COLUMN borrower_age_band TEXT;
