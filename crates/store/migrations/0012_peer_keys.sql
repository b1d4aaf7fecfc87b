-- hotline storage, version 12: key rotation (SPEC §4 v2). A peer's pin moves
-- when its signed KeyRotation entry arrives; each key it rotated away from is
-- kept here, oldest first by `at`, with the entry that retired it. The
-- pin itself stays in peers.token.
CREATE TABLE peer_keys (
    peer_id INTEGER NOT NULL REFERENCES peers(id),
    token   TEXT NOT NULL,
    next    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    channel BLOB NOT NULL CHECK (length(channel) = 32),
    entry   BLOB NOT NULL CHECK (length(entry) = 32),
    PRIMARY KEY (peer_id, token)
);
