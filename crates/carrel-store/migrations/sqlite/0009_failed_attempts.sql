-- Failed attempts per account in the current throttle window (C2, R3): a
-- staff member's or patron's sign-ins with a wrong password or PIN, and a
-- patron's refused lookups of a minor's records. Counted here rather than
-- from the audit log because an attempt must take its place in the count
-- in the same locked step that decides whether it may go ahead, before its
-- password hash is checked (see attempts.rs). One row per account and kind
-- of attempt; a row whose window has passed counts nothing.
CREATE TABLE failed_attempts (
    account_kind TEXT NOT NULL,
    account_id INTEGER NOT NULL,
    attempt TEXT NOT NULL,
    window_started_at INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (account_kind, account_id, attempt)
);
