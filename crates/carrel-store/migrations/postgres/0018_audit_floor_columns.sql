-- The floor a retention purge moves the audit log to, in columns of the
-- purge's own entry (D7), where it had been only in the entry's text.
-- `carrel audit verify` checks the log's floor against the latest entry
-- that records one; the chain's MAC covers these columns when they are
-- set, so nobody without the audit key can write a floor. Entries from
-- before this migration keep theirs in their text, and are read as before
-- until they age out.
ALTER TABLE audit_log ADD COLUMN floor_seq BIGINT;
ALTER TABLE audit_log ADD COLUMN floor_hash TEXT;
