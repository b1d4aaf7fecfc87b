-- hotline on PostgreSQL, version 3: the keys peers rotated away from
-- (SQLite's migration 12, translated).
CREATE TABLE peer_keys (
    peer_id BIGINT NOT NULL REFERENCES peers(id),
    token   TEXT NOT NULL,
    next    TEXT NOT NULL,
    at      BIGINT NOT NULL,
    channel BYTEA NOT NULL CHECK (length(channel) = 32),
    entry   BYTEA NOT NULL CHECK (length(entry) = 32),
    PRIMARY KEY (peer_id, token)
);
