-- Devices that have signed in to an account (C2, OWASP "device cookies"):
-- a sign-in presenting a device's token is counted on the device, not on
-- the account's window nor the client's address, so strangers who lock an
-- account cannot lock out a device its holder has signed in on. Only the
-- token's SHA-256 is kept, never the token, and nothing about the device
-- (no address, no browser). One of staff_id and patron_id names the
-- account; a patron's rows go when the registration is destroyed
-- (retention/targets.rs), any account's when their time has passed (the
-- purge) or its sessions end for a compromise (known_devices.rs).
CREATE TABLE known_devices (
    token_sha256 TEXT PRIMARY KEY,
    staff_id BIGINT REFERENCES staff(id),
    patron_id BIGINT REFERENCES patrons(id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    CHECK ((staff_id IS NULL) <> (patron_id IS NULL))
);
CREATE INDEX known_devices_staff ON known_devices(staff_id);
CREATE INDEX known_devices_patron ON known_devices(patron_id);
CREATE INDEX known_devices_expiry ON known_devices(expires_at);
