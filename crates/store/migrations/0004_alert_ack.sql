-- hotline storage, version 4: a person can acknowledge an alert with a note,
-- which says someone is on it; the alert stays open until its cause goes.
ALTER TABLE alerts ADD COLUMN acked_at INTEGER;
ALTER TABLE alerts ADD COLUMN acked_by TEXT;
ALTER TABLE alerts ADD COLUMN ack_note TEXT;
