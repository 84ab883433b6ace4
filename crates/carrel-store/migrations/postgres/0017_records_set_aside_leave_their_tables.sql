-- Records only a restricted case keeps leave their tables (L6): a record
-- set aside in secret (see kept_in_secret, migration 11) is moved out of
-- its table into kept_in_secret, whole, so that no read by id, roster,
-- count or need can see it outside the case's circle. Its id stays in the
-- case's legal-hold pins; PostgreSQL's sequences never give an id twice
-- (SQLite's tables are made AUTOINCREMENT for the same reason).
--
-- What a set-aside record was, for the case's own package: its patron,
-- when it happened (the package's date range), and its facts as the
-- package shows them (JSON). Rows set aside before this migration are
-- moved out of their tables by its follow-up.
ALTER TABLE kept_in_secret ADD COLUMN patron_id BIGINT;
ALTER TABLE kept_in_secret ADD COLUMN occurred BIGINT;
ALTER TABLE kept_in_secret ADD COLUMN record TEXT;
