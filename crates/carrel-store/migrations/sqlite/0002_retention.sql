-- Retention: the record classes not stored before, legal holds, anonymous
-- statistics, and purge bookkeeping. Times are Unix seconds (UTC); dates are
-- YYYY-MM-DD in the library's zone. Each class's clock column (the event its
-- retention counts from) has an index with the id, so a purge walks only the
-- rows that are due, never the whole table.

-- Interlibrary loan. `closed_at` is set when the request is both finished
-- (returned or cancelled) and paid in full: the ill_closed_and_paid clock.
CREATE TABLE ill_requests (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER REFERENCES patrons(id),
    lender TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    fees_cents INTEGER NOT NULL DEFAULT 0,
    fees_paid_cents INTEGER NOT NULL DEFAULT 0,
    requested_at INTEGER NOT NULL,
    closed_at INTEGER
);
CREATE INDEX ill_requests_patron ON ill_requests(patron_id);
CREATE INDEX ill_requests_closed ON ill_requests(closed_at, id);

-- Home delivery ("Books on the Run"): one row per visit on a route.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER REFERENCES patrons(id),
    route TEXT NOT NULL,
    scheduled_on TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX deliveries_patron ON deliveries(patron_id);
CREATE INDEX deliveries_completed ON deliveries(completed_at, id);

CREATE TABLE delivery_items (
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES items(id),
    PRIMARY KEY (delivery_id, item_id)
);

-- Programs hold no personal data; their registrations do.
CREATE TABLE programs (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    capacity INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX programs_ends ON programs(ends_at, id);

CREATE TABLE program_registrations (
    id INTEGER PRIMARY KEY,
    program_id INTEGER NOT NULL REFERENCES programs(id),
    patron_id INTEGER REFERENCES patrons(id),
    registered_at INTEGER NOT NULL
);
CREATE INDEX program_registrations_program ON program_registrations(program_id, id);
CREATE INDEX program_registrations_patron ON program_registrations(patron_id);
CREATE UNIQUE INDEX program_registrations_once ON program_registrations(program_id, patron_id);

-- Public computer sessions (electronic access).
CREATE TABLE computer_sessions (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER REFERENCES patrons(id),
    terminal TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE INDEX computer_sessions_patron ON computer_sessions(patron_id, started_at);
CREATE INDEX computer_sessions_ended ON computer_sessions(ended_at, id);
CREATE UNIQUE INDEX computer_sessions_one_per_terminal ON computer_sessions(terminal) WHERE ended_at IS NULL;

-- Opt-in mailing lists. `last_active_at` moves when a mailing is sent or
-- someone subscribes: the list_last_active clock.
CREATE TABLE mailing_lists (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL
);
CREATE INDEX mailing_lists_active ON mailing_lists(last_active_at, id);

CREATE TABLE list_subscriptions (
    id INTEGER PRIMARY KEY,
    list_id INTEGER NOT NULL REFERENCES mailing_lists(id),
    patron_id INTEGER REFERENCES patrons(id),
    subscribed_at INTEGER NOT NULL
);
CREATE INDEX list_subscriptions_list ON list_subscriptions(list_id, id);
CREATE INDEX list_subscriptions_patron ON list_subscriptions(patron_id);
CREATE UNIQUE INDEX list_subscriptions_once ON list_subscriptions(list_id, patron_id);

-- Legal holds (preservation requests, L5). A hold pins the records that
-- existed when it was placed (legal_hold_records), never later ones.
-- `reference` is the requesting agency's case number, not patron data.
CREATE TABLE legal_holds (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL,
    record_class TEXT NOT NULL,
    patron_id INTEGER REFERENCES patrons(id),
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    placed_by INTEGER NOT NULL REFERENCES staff(id),
    placed_at INTEGER NOT NULL,
    renewals INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    released_at INTEGER,
    released_by INTEGER REFERENCES staff(id)
);
CREATE INDEX legal_holds_in_force ON legal_holds(released_at, expires_at);

-- `record_kind` is the kind of record pinned (loan, hold, computer_session...).
CREATE TABLE legal_hold_records (
    record_kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    hold_id INTEGER NOT NULL REFERENCES legal_holds(id),
    PRIMARY KEY (record_kind, record_id, hold_id)
);
CREATE INDEX legal_hold_records_hold ON legal_hold_records(hold_id);

-- Anonymous statistics (D3): counts per month and dimensions such as item,
-- category and age band; never a patron, a birth date or a postcode.
CREATE TABLE statistics (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    records INTEGER NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (record_class, month, dimensions)
);

-- Purge bookkeeping: each batch updates its class's counts in the same
-- transaction that destroys the batch, so a purge killed at any point leaves
-- counts that match what was destroyed, and the next run resumes the run.
CREATE TABLE purge_runs (
    id INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    started_by TEXT NOT NULL
);

CREATE TABLE purge_progress (
    run_id INTEGER NOT NULL REFERENCES purge_runs(id),
    target TEXT NOT NULL,
    destroyed INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER,
    PRIMARY KEY (run_id, target)
);

-- Circulation's clocks, walked in (time, id) order.
DROP INDEX loans_returned;
CREATE INDEX loans_returned ON loans(returned_at, id);
CREATE INDEX holds_closed ON holds(closed_at, id);
CREATE INDEX fines_settled ON fines(settled_at, id);
CREATE INDEX fines_loan ON fines(loan_id);
CREATE INDEX patrons_expires ON patrons(expires_on, id);
CREATE INDEX audit_log_at ON audit_log(at, seq);

-- The audit log is purged from its oldest end; verification starts from the
-- first entry kept, whose predecessor's hash is recorded here (and in the
-- audit entry that records the purge).
ALTER TABLE audit_head ADD COLUMN floor_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN floor_hash TEXT NOT NULL DEFAULT '';
