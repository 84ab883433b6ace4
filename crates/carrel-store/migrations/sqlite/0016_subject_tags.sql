-- Each audit_subjects row (which entries an operation on a destroyable
-- record wrote) carries a MAC made with the audit key over all its fields
-- (D7). The purge erases the record ids of the entries a subject row
-- names, and tags each erasure as Carrel's own; without this, someone able
-- to write the database but without the key could add a row naming, say,
-- a clerk's read of a patron, cancel any program registration, and have
-- Carrel erase whose record was read under a valid tag. Rows without a
-- valid tag are ignored and removed. Carrel tags the rows already there
-- right after this step (it needs the key).
ALTER TABLE audit_subjects ADD COLUMN tag TEXT;
