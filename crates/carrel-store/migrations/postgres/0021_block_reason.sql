-- Issue 16. A blocked card records why, from the store's closed list
-- (card_lost, card_stolen, misuse, patron_asked); unblocking clears it.
-- A migration of its own: 0020 had already run on databases when this
-- was added, and an applied migration is never edited.
ALTER TABLE patrons ADD COLUMN block_reason TEXT;
