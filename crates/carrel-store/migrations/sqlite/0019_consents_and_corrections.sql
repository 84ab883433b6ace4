-- The patron's side (C1, C3, A2): consents that know their policy
-- version, account-notice preferences, and corrections held for staff.
--
-- A consent is kept on the record it allows, so it goes when the record
-- goes: the e-mail consent on the registration, a mailing list's on the
-- subscription. `*_policy_version` is the policy version it was given
-- under; `*_covers` the SHA-256 of what that version said the consent
-- covers. When the policy in force says something else, the patron is
-- asked again, and nothing new is collected under the old consent
-- meanwhile. Rows from before this migration have neither: asked again.
ALTER TABLE patrons ADD COLUMN email_consent_at INTEGER;
ALTER TABLE patrons ADD COLUMN email_consent_policy_version INTEGER;
ALTER TABLE patrons ADD COLUMN email_consent_covers TEXT;
-- Which account notices the patron wants by e-mail: a comma-separated
-- list of overdue, holds, reminders; NULL is all of them.
ALTER TABLE patrons ADD COLUMN notices TEXT;
ALTER TABLE list_subscriptions ADD COLUMN consent_at INTEGER;
ALTER TABLE list_subscriptions ADD COLUMN consent_policy_version INTEGER;
ALTER TABLE list_subscriptions ADD COLUMN consent_covers TEXT;

-- A change to a patron's registration details: sent online and held
-- until staff verify it (A2), or made in person. `value` is the detail
-- asked for while the correction is pending, and is cleared once it is
-- decided (applied to the registration, or refused): the record then
-- keeps only who decided, when, and which kind of photo ID was checked
-- (never its number).
-- AUTOINCREMENT: a correction replaced while waiting is deleted, and its
-- id must never name the one that replaced it (staff approve the one
-- they saw, by id).
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patron_id INTEGER NOT NULL REFERENCES patrons(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT,
    submitted_at INTEGER NOT NULL,
    online INTEGER NOT NULL,
    state TEXT NOT NULL,
    decided_by INTEGER REFERENCES staff(id),
    decided_at INTEGER,
    id_kind TEXT
);
CREATE INDEX corrections_state ON corrections(state, id);
CREATE INDEX corrections_patron ON corrections(patron_id);
