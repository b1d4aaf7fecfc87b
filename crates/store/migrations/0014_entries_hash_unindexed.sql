-- hotline storage, version 14: no index on the entries' hashes. Every entry
-- inserted under load went to a random page of that index (a hash is
-- random), so a group commit of k messages rewrote some k index pages
-- beside a few pages of rows: two thirds of the log written per message
-- (docs/PERFORMANCE.md). An entry is found by hash through the station's
-- in-memory book, which maps each hash to its author and seq, then by
-- (channel, author, seq), which stays unique and indexed. The table is
-- rebuilt (SQLite's documented way to drop a column's UNIQUE): the rows,
-- their cursors and the cursor counter are kept.
CREATE TABLE entries_v14 (
    cursor    INTEGER PRIMARY KEY AUTOINCREMENT,
    channel   BLOB NOT NULL REFERENCES channels(id),
    author    INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    lamport   INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    stored_at INTEGER NOT NULL,
    envelope  BLOB NOT NULL,
    UNIQUE (channel, author, seq)
);
INSERT INTO entries_v14 (cursor, channel, author, seq, hash, lamport, kind, stored_at, envelope)
    SELECT cursor, channel, author, seq, hash, lamport, kind, stored_at, envelope FROM entries ORDER BY cursor;
-- The cursor counter goes on from where it was, never back.
UPDATE sqlite_sequence
   SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'entries'))
 WHERE name = 'entries_v14'
   AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'entries');
DROP TABLE entries;
ALTER TABLE entries_v14 RENAME TO entries;
CREATE INDEX entries_by_channel_cursor ON entries(channel, cursor);
