-- SQL functions the retention purge uses to compute statistics inside the
-- database (SQLite has the same two, registered by Carrel on each
-- connection: src/db/functions.rs). Both are plain SQL expressions, so the
-- planner inlines them into the purge's statements.

-- The YYYY-MM-DD date of a Unix-seconds instant in an IANA time zone.
CREATE FUNCTION carrel_local_date(at BIGINT, zone TEXT) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(to_timestamp(at) AT TIME ZONE zone, 'YYYY-MM-DD') $$;

-- The statistics age band of someone born on birth_date, on on_date (both
-- YYYY-MM-DD), or 'unknown'. The bands are AGE_BANDS in
-- src/retention/statistics.rs; a test holds the two together. Whole years
-- are counted on the text (year difference, less one before the birthday)
-- because the body is inlined wherever it is called: every mention of an
-- argument is computed again, so each must be cheap.
CREATE FUNCTION carrel_age_band(birth_date TEXT, on_date TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE
    WHEN birth_date IS NULL OR on_date IS NULL OR birth_date COLLATE "C" > on_date COLLATE "C" THEN 'unknown'
    ELSE (ARRAY['0-12', '13-17', '18-29', '30-44', '45-64', '65+'])[
        width_bucket(
            substr(on_date, 1, 4)::int - substr(birth_date, 1, 4)::int
              - (substr(on_date, 6, 5) COLLATE "C" < substr(birth_date, 6, 5) COLLATE "C")::int,
            ARRAY[13, 18, 30, 45, 65]) + 1]
END $$;

-- Statistics cells are found and sorted by their key only: compare the key
-- byte by byte instead of through the locale (a purge upserts one cell per
-- loan, and every comparison in the B-tree goes through the collation).
ALTER TABLE statistics
    ALTER COLUMN record_class TYPE TEXT COLLATE "C",
    ALTER COLUMN month TYPE TEXT COLLATE "C",
    ALTER COLUMN dimensions TYPE TEXT COLLATE "C";

-- Statistics rows are appended by each purge step and added up by reports
-- (see add_step in src/retention/statistics.rs): no key to merge on, an
-- index for reports, which read one class over a range of months.
ALTER TABLE statistics DROP CONSTRAINT statistics_pkey;
CREATE INDEX statistics_month ON statistics (record_class, month);

-- A loan records its borrower's card category and age band on the day it
-- is made (declared fields, purpose "statistics"), so the purge counts it
-- as the borrower was then, without looking the patron up. Loans made
-- before this step are filled in by Carrel right after it (the age band
-- needs the library's time zone, which only the policy file knows).
ALTER TABLE loans ADD COLUMN borrower_category TEXT;
ALTER TABLE loans ADD COLUMN borrower_age_band TEXT;
