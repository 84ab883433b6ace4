-- Audit entries that can forget the records they name (D1, D2, D7).
--
-- An entry's MAC covers `record_ref`, a salted hash of its `record_id`,
-- not the id itself: the id and its salt can then be erased when the
-- record is destroyed, and the chain still verifies. Without the salt the
-- hash cannot be matched against a guessed id.
ALTER TABLE audit_log ADD COLUMN record_salt TEXT;
ALTER TABLE audit_log ADD COLUMN record_ref TEXT;

-- Which destroyable records one operation (a contiguous run of entries,
-- first_seq..last_seq) named: a checkout names its patron and its loan.
-- When any of them is destroyed, every entry of the operation forgets its
-- record ids, so the log cannot say who borrowed what; and every row of
-- the operation here goes too.
CREATE TABLE audit_subjects (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (kind, id, first_seq)
);
CREATE INDEX audit_subjects_operation ON audit_subjects(first_seq);
