-- Months whose statistics a report has published: no purge adds to them
-- again, so a published figure never changes and two reports read either
-- side of a purge single no one out (D3). A month can be published only
-- once it is mature (retention::statistics::sealed_through).
CREATE TABLE statistics_sealed (
    record_class TEXT NOT NULL,
    month TEXT NOT NULL,
    PRIMARY KEY (record_class, month)
);
