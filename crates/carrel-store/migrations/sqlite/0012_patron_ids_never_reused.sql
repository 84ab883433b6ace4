-- The highest patron id ever given. SQLite gives a new row the highest id
-- in the table plus one, so after the newest patron's registration is
-- destroyed the next patron got the same id, and audit entries a patron
-- wrote as actor ("patron:15", which the chain holds and cannot forget)
-- then pointed at someone else. Ids are taken from here instead.
CREATE TABLE patron_id_high_water (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id INTEGER NOT NULL
);
INSERT INTO patron_id_high_water (id, last_id) SELECT 1, COALESCE(MAX(id), 0) FROM patrons;
