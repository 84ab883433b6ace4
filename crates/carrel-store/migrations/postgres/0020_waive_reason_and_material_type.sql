-- Issue 16. A waiver records why it was given, from the store's closed
-- list (staff_error, library_error, hardship, goodwill): never free text,
-- which could say more about the patron than the fine does. It goes when
-- the fine goes. An item records its material type (book, dvd, ...), as
-- a catalogue import brings it.
ALTER TABLE fines ADD COLUMN waive_reason TEXT;
ALTER TABLE items ADD COLUMN material_type TEXT;
