-- hotline storage, version 8: channels restored from a backup
-- (`hotline restore`). Each stays here until its peer has said what it holds
-- of this station's own chain and anything more is taken back: until then
-- the station writes nothing on it, so no sequence number is written twice.
CREATE TABLE restored (
    channel BLOB PRIMARY KEY REFERENCES channels(id)
);
