-- Foundation: policy versions, staff, patrons, items, loans, holds, fines, audit.
-- Times are Unix seconds (UTC); dates are YYYY-MM-DD in the library's zone.

CREATE TABLE policy_versions (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    first_loaded_at INTEGER NOT NULL
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE staff_sessions (
    token_sha256 TEXT PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE patrons (
    id INTEGER PRIMARY KEY,
    card_barcode TEXT NOT NULL UNIQUE,
    pin_hash TEXT,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    birth_date TEXT,
    guardian_id INTEGER REFERENCES patrons(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX patrons_guardian ON patrons(guardian_id);

-- Library-chosen registration fields (name, address, e-mail, ...), only those
-- the policy declares (N4).
CREATE TABLE patron_fields (
    patron_id INTEGER NOT NULL REFERENCES patrons(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (patron_id, name)
);

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    barcode TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    author TEXT,
    call_number TEXT,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE loans (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER REFERENCES patrons(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    checked_out_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    renewals INTEGER NOT NULL DEFAULT 0,
    returned_at INTEGER
);
CREATE INDEX loans_patron_open ON loans(patron_id, returned_at);
CREATE INDEX loans_item_open ON loans(item_id, returned_at);
CREATE INDEX loans_returned ON loans(returned_at);
-- An item is on one open loan at most, whatever the application does.
CREATE UNIQUE INDEX loans_one_open_per_item ON loans(item_id) WHERE returned_at IS NULL;

CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER REFERENCES patrons(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    placed_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    closed_at INTEGER
);
CREATE INDEX holds_item_status ON holds(item_id, status);
CREATE INDEX holds_patron_status ON holds(patron_id, status);

CREATE TABLE fines (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER REFERENCES patrons(id),
    loan_id INTEGER REFERENCES loans(id),
    amount_cents INTEGER NOT NULL,
    reason TEXT NOT NULL,
    assessed_at INTEGER NOT NULL,
    paid_cents INTEGER NOT NULL DEFAULT 0,
    waived_cents INTEGER NOT NULL DEFAULT 0,
    settled_at INTEGER
);
CREATE INDEX fines_patron_open ON fines(patron_id, settled_at);

-- Append-only, hash-chained. `actor` is "staff:<id>" or "system:<task>";
-- `record_id` is "<kind>:<id>": no names, titles or barcodes (D7).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    record_class TEXT NOT NULL,
    record_id TEXT,
    purpose TEXT NOT NULL,
    decision TEXT NOT NULL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- Counting recent failed sign-ins per account, and reports per record.
CREATE INDEX audit_log_record ON audit_log(record_id, at);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
