-- hotline storage, version 13: start-up snapshots (docs/DECISIONS.md,
-- "Start-up snapshots"). The newest signed snapshot of each channel's book,
-- and the fixed segments of each author's entry metadata it names by hash:
-- a segment is written once, when it fills, and never changes. Both are
-- derived from the entries: a snapshot that does not verify is ignored and
-- the channel is rebuilt from its entries.
CREATE TABLE book_snapshots (
    channel BLOB PRIMARY KEY REFERENCES channels(id),
    len0    INTEGER NOT NULL,
    len1    INTEGER NOT NULL,
    body    BLOB NOT NULL,
    sig     BLOB NOT NULL
);
CREATE TABLE book_segments (
    channel BLOB NOT NULL REFERENCES channels(id),
    author  INTEGER NOT NULL CHECK (author IN (0, 1)),
    idx     INTEGER NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (channel, author, idx)
);
