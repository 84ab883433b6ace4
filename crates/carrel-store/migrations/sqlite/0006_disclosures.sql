-- Disclosure requests and legal process (REQUIREMENTS R1-R5, L1-L7).

-- A staff member's supervisor: under a non-disclosure order (L6) a case is
-- visible to the staff member who took it and to their supervisor.
ALTER TABLE staff ADD COLUMN supervisor_id INTEGER REFERENCES staff(id);

-- One request for library records. Its public reference is series + number:
-- ordinary requests are numbered D-1, D-2, ...; requests under a gag order
-- R-1, R-2, ... in a series of their own, so no one outside the circle sees
-- a gap in the numbers or a changed total. The id never leaves Carrel.
CREATE TABLE disclosure_requests (
    id INTEGER PRIMARY KEY,
    series TEXT NOT NULL,
    number INTEGER NOT NULL,
    requester_kind TEXT NOT NULL,
    -- Who asks, when not a patron: officer and agency, or the third party.
    requester TEXT,
    requester_patron_id INTEGER REFERENCES patrons(id),
    subject_patron_id INTEGER REFERENCES patrons(id),
    basis TEXT NOT NULL,
    -- Comma-separated record classes, and the dates they cover.
    classes TEXT NOT NULL,
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    reason TEXT,
    gagged INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    -- NULL when the patron asked online, signed in with card and PIN.
    received_by INTEGER REFERENCES staff(id),
    received_at INTEGER NOT NULL,
    approved_by INTEGER REFERENCES staff(id),
    released_by INTEGER REFERENCES staff(id),
    released_at INTEGER,
    exigent INTEGER NOT NULL DEFAULT 0,
    -- After an exigent release: when the missing document is overdue.
    document_due_at INTEGER,
    closed_at INTEGER,
    -- The package released, kept until the request is closed; its digest
    -- stays as proof of exactly what was released.
    package_sha256 TEXT,
    package_records INTEGER,
    package_json TEXT,
    package_html TEXT,
    UNIQUE (series, number)
);
CREATE INDEX disclosure_requests_state ON disclosure_requests(state, id);
CREATE INDEX disclosure_requests_subject ON disclosure_requests(subject_patron_id);
CREATE INDEX disclosure_requests_requester ON disclosure_requests(requester_patron_id);

CREATE TABLE disclosure_counters (
    series TEXT PRIMARY KEY,
    last_number INTEGER NOT NULL
);
INSERT INTO disclosure_counters (series, last_number) VALUES ('D', 0);
INSERT INTO disclosure_counters (series, last_number) VALUES ('R', 0);

-- Documents presented: the kind, and for legal process the issuer's
-- reference (docket or case number). For photo ID, which kind of ID, never
-- its number.
CREATE TABLE disclosure_documents (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES disclosure_requests(id),
    kind TEXT NOT NULL,
    reference TEXT,
    id_kind TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX disclosure_documents_request ON disclosure_documents(request_id);

-- The timeline: every step, who took it and when. Notes are staff's words
-- (counsel's advice, a refusal's reason) and never go to logs.
CREATE TABLE disclosure_steps (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES disclosure_requests(id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    step TEXT NOT NULL,
    outcome TEXT,
    note TEXT
);
CREATE INDEX disclosure_steps_request ON disclosure_steps(request_id, id);

-- Alerts inside Carrel for a role (the Director), and the e-mail hook's
-- outbox (mailed_at).
CREATE TABLE staff_alerts (
    id INTEGER PRIMARY KEY,
    role TEXT NOT NULL,
    request_id INTEGER NOT NULL REFERENCES disclosure_requests(id),
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER,
    mailed_at INTEGER
);
CREATE INDEX staff_alerts_role ON staff_alerts(role, id);
CREATE INDEX staff_alerts_unmailed ON staff_alerts(mailed_at, id);

-- A preservation request's legal holds point back at it.
ALTER TABLE legal_holds ADD COLUMN disclosure_id INTEGER REFERENCES disclosure_requests(id);

-- Patrons signed in with card and PIN (R2 online, R3 in Colorado).
CREATE TABLE patron_sessions (
    token_sha256 TEXT PRIMARY KEY,
    patron_id INTEGER NOT NULL REFERENCES patrons(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX patron_sessions_patron ON patron_sessions(patron_id);
