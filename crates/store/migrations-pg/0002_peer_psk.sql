-- hotline on PostgreSQL, version 2: the stored pre-shared keys of the hybrid
-- post-quantum handshake (SQLite's migration 11, translated).
CREATE TABLE peer_psk (
    peer_id BIGINT NOT NULL REFERENCES peers(id),
    dir     TEXT NOT NULL CHECK (dir IN ('in', 'out')),
    gen     BIGINT NOT NULL CHECK (gen >= 0),
    key     BYTEA NOT NULL CHECK (length(key) = 32),
    prev    BYTEA CHECK (prev IS NULL OR length(prev) = 32),
    PRIMARY KEY (peer_id, dir)
);
