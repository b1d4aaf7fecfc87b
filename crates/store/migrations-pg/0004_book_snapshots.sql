-- hotline on PostgreSQL, version 4: start-up snapshots (SQLite's
-- migration 13, translated).
CREATE TABLE book_snapshots (
    channel BYTEA PRIMARY KEY REFERENCES channels(id),
    len0    BIGINT NOT NULL,
    len1    BIGINT NOT NULL,
    body    BYTEA NOT NULL,
    sig     BYTEA NOT NULL
);
CREATE TABLE book_segments (
    channel BYTEA NOT NULL REFERENCES channels(id),
    author  BIGINT NOT NULL CHECK (author IN (0, 1)),
    idx     BIGINT NOT NULL,
    bytes   BYTEA NOT NULL,
    PRIMARY KEY (channel, author, idx)
);
