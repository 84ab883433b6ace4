-- Records a purge would have destroyed but a legal hold of a request under
-- a non-disclosure order keeps (L5 and L6 at once). Outside the request's
-- circle they are as if destroyed: left out of every list, count and
-- download, so nothing shows that something was kept. A row goes when its
-- record is destroyed.
CREATE TABLE kept_in_secret (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
