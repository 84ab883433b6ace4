-- Records only a restricted case keeps leave their tables (L6), and the
-- ids of destroyed records are never given again.
--
-- 1. A record set aside in secret (see kept_in_secret, migration 11) is
--    moved out of its table into kept_in_secret, whole, so that no read by
--    id, roster, count or need can see it outside the case's circle: it is
--    as gone as in a library where the case never was. Its id stays in the
--    case's legal-hold pins. So SQLite must never give that id to a new
--    record: a new loan 5 would be pinned by the case's hold, and the
--    audit entries of the old loan 5 would be forgotten with the new one.
--    SQLite gives a new row the highest id in its table plus one, so the
--    newest record's id came back whenever it was destroyed; AUTOINCREMENT
--    never gives an id twice. PostgreSQL's sequences never did.
--
-- AUTOINCREMENT needs the tables made again. Foreign-key enforcement stays
-- on inside a migration's transaction, and dropping a parent table would
-- act on its children (fines.loan_id set NULL, delivery_items deleted), so
-- the new tables refer to each other's new names, the old children go
-- before their old parents, and the renames at the end rewrite the new
-- children's references to the final names.

CREATE TABLE loans_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patron_id INTEGER REFERENCES patrons(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    checked_out_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    renewals INTEGER NOT NULL DEFAULT 0,
    returned_at INTEGER,
    borrower_category TEXT,
    borrower_age_band TEXT
);
INSERT INTO loans_new (id, patron_id, item_id, checked_out_at, due_at, renewals, returned_at, borrower_category, borrower_age_band)
    SELECT id, patron_id, item_id, checked_out_at, due_at, renewals, returned_at, borrower_category, borrower_age_band FROM loans;

CREATE TABLE holds_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patron_id INTEGER REFERENCES patrons(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    placed_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    closed_at INTEGER
);
INSERT INTO holds_new (id, patron_id, item_id, placed_at, status, closed_at)
    SELECT id, patron_id, item_id, placed_at, status, closed_at FROM holds;

CREATE TABLE fines_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patron_id INTEGER REFERENCES patrons(id),
    loan_id INTEGER REFERENCES loans_new(id) ON DELETE SET NULL,
    amount_cents INTEGER NOT NULL,
    reason TEXT NOT NULL,
    assessed_at INTEGER NOT NULL,
    paid_cents INTEGER NOT NULL DEFAULT 0,
    waived_cents INTEGER NOT NULL DEFAULT 0,
    settled_at INTEGER
);
INSERT INTO fines_new (id, patron_id, loan_id, amount_cents, reason, assessed_at, paid_cents, waived_cents, settled_at)
    SELECT id, patron_id, loan_id, amount_cents, reason, assessed_at, paid_cents, waived_cents, settled_at FROM fines;

CREATE TABLE ill_requests_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patron_id INTEGER REFERENCES patrons(id),
    lender TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    fees_cents INTEGER NOT NULL DEFAULT 0,
    fees_paid_cents INTEGER NOT NULL DEFAULT 0,
    requested_at INTEGER NOT NULL,
    closed_at INTEGER
);
INSERT INTO ill_requests_new (id, patron_id, lender, title, status, fees_cents, fees_paid_cents, requested_at, closed_at)
    SELECT id, patron_id, lender, title, status, fees_cents, fees_paid_cents, requested_at, closed_at FROM ill_requests;

CREATE TABLE deliveries_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patron_id INTEGER REFERENCES patrons(id),
    route TEXT NOT NULL,
    scheduled_on TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    completed_at INTEGER
);
INSERT INTO deliveries_new (id, patron_id, route, scheduled_on, created_at, completed_at)
    SELECT id, patron_id, route, scheduled_on, created_at, completed_at FROM deliveries;

CREATE TABLE delivery_items_new (
    delivery_id INTEGER NOT NULL REFERENCES deliveries_new(id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES items(id),
    PRIMARY KEY (delivery_id, item_id)
);
INSERT INTO delivery_items_new (delivery_id, item_id) SELECT delivery_id, item_id FROM delivery_items;

CREATE TABLE program_registrations_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    program_id INTEGER NOT NULL REFERENCES programs(id),
    patron_id INTEGER REFERENCES patrons(id),
    registered_at INTEGER NOT NULL
);
INSERT INTO program_registrations_new (id, program_id, patron_id, registered_at)
    SELECT id, program_id, patron_id, registered_at FROM program_registrations;

CREATE TABLE computer_sessions_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patron_id INTEGER REFERENCES patrons(id),
    terminal TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER
);
INSERT INTO computer_sessions_new (id, patron_id, terminal, started_at, ended_at)
    SELECT id, patron_id, terminal, started_at, ended_at FROM computer_sessions;

CREATE TABLE list_subscriptions_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    list_id INTEGER NOT NULL REFERENCES mailing_lists(id),
    patron_id INTEGER REFERENCES patrons(id),
    subscribed_at INTEGER NOT NULL
);
INSERT INTO list_subscriptions_new (id, list_id, patron_id, subscribed_at)
    SELECT id, list_id, patron_id, subscribed_at FROM list_subscriptions;

-- Children before their parents: nothing refers to an old table when it goes.
DROP TABLE delivery_items;
DROP TABLE fines;
DROP TABLE loans;
DROP TABLE holds;
DROP TABLE ill_requests;
DROP TABLE deliveries;
DROP TABLE program_registrations;
DROP TABLE computer_sessions;
DROP TABLE list_subscriptions;

-- Parents first: each rename rewrites its new children's references.
ALTER TABLE loans_new RENAME TO loans;
ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE fines_new RENAME TO fines;
ALTER TABLE delivery_items_new RENAME TO delivery_items;
ALTER TABLE holds_new RENAME TO holds;
ALTER TABLE ill_requests_new RENAME TO ill_requests;
ALTER TABLE program_registrations_new RENAME TO program_registrations;
ALTER TABLE computer_sessions_new RENAME TO computer_sessions;
ALTER TABLE list_subscriptions_new RENAME TO list_subscriptions;

CREATE INDEX loans_patron_open ON loans(patron_id, returned_at);
CREATE INDEX loans_item_open ON loans(item_id, returned_at);
CREATE UNIQUE INDEX loans_one_open_per_item ON loans(item_id) WHERE returned_at IS NULL;
CREATE INDEX loans_returned ON loans(returned_at, id);
CREATE INDEX holds_item_status ON holds(item_id, status);
CREATE INDEX holds_patron_status ON holds(patron_id, status);
CREATE INDEX holds_closed ON holds(closed_at, id);
CREATE INDEX fines_patron_open ON fines(patron_id, settled_at);
CREATE INDEX fines_settled ON fines(settled_at, id);
CREATE INDEX fines_loan ON fines(loan_id);
CREATE INDEX ill_requests_patron ON ill_requests(patron_id);
CREATE INDEX ill_requests_closed ON ill_requests(closed_at, id);
CREATE INDEX deliveries_patron ON deliveries(patron_id);
CREATE INDEX deliveries_completed ON deliveries(completed_at, id);
CREATE INDEX program_registrations_program ON program_registrations(program_id, id);
CREATE INDEX program_registrations_patron ON program_registrations(patron_id);
CREATE UNIQUE INDEX program_registrations_once ON program_registrations(program_id, patron_id);
CREATE INDEX computer_sessions_patron ON computer_sessions(patron_id, started_at);
CREATE INDEX computer_sessions_ended ON computer_sessions(ended_at, id);
CREATE UNIQUE INDEX computer_sessions_one_per_terminal ON computer_sessions(terminal) WHERE ended_at IS NULL;
CREATE INDEX list_subscriptions_list ON list_subscriptions(list_id, id);
CREATE INDEX list_subscriptions_patron ON list_subscriptions(patron_id);
CREATE UNIQUE INDEX list_subscriptions_once ON list_subscriptions(list_id, patron_id);

-- 2. What a set-aside record was, for the case's own package: its patron,
--    when it happened (the package's date range), and its facts as the
--    package shows them (JSON). Rows set aside before this migration are
--    moved out of their tables by its follow-up.
ALTER TABLE kept_in_secret ADD COLUMN patron_id INTEGER;
ALTER TABLE kept_in_secret ADD COLUMN occurred INTEGER;
ALTER TABLE kept_in_secret ADD COLUMN record TEXT;
