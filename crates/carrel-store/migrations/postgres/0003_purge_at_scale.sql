-- Statistics facets (D3): a loan is now counted once under its item and once
-- under its borrower's category and age band, never under both together, so
-- no stored cell says what kind of borrower took an item. Cells written
-- before are split the same way.
INSERT INTO statistics (record_class, month, dimensions, records, amount)
SELECT record_class, month, split_part(dimensions, ';', 1), SUM(records), SUM(amount)
FROM statistics WHERE record_class = 'circulation' AND dimensions LIKE 'item=%;category=%'
GROUP BY 1, 2, 3
ON CONFLICT (record_class, month, dimensions) DO UPDATE
SET records = statistics.records + excluded.records, amount = statistics.amount + excluded.amount;

INSERT INTO statistics (record_class, month, dimensions, records, amount)
SELECT record_class, month, substr(dimensions, strpos(dimensions, ';') + 1), SUM(records), SUM(amount)
FROM statistics WHERE record_class = 'circulation' AND dimensions LIKE 'item=%;category=%'
GROUP BY 1, 2, 3
ON CONFLICT (record_class, month, dimensions) DO UPDATE
SET records = statistics.records + excluded.records, amount = statistics.amount + excluded.amount;

DELETE FROM statistics WHERE record_class = 'circulation' AND dimensions LIKE 'item=%;category=%';

-- A fine outlives the loan it was for (each has its own clock): when a loan
-- is destroyed, the fine's link to it goes in the same step, by the foreign
-- key itself rather than a separate UPDATE probing fines for every loan.
ALTER TABLE fines DROP CONSTRAINT fines_loan_id_fkey;
ALTER TABLE fines ADD CONSTRAINT fines_loan_id_fkey FOREIGN KEY (loan_id) REFERENCES loans(id) ON DELETE SET NULL;
