-- hotline on PostgreSQL, version 5: entries that came by courier (SQLite's
-- migration 15, translated).
CREATE TABLE courier (
    channel BYTEA NOT NULL REFERENCES channels(id),
    author  BIGINT NOT NULL CHECK (author IN (0, 1)),
    first   BIGINT NOT NULL,
    last    BIGINT NOT NULL,
    bundle  BYTEA NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (channel, author, first)
);
