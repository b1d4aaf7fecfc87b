-- hotline storage, version 7: a peer can be removed, or its key replaced
-- outside rotation ("repin"), without losing the record. Its row stays, with
-- `removed_at` set (and `replaced_by`, the row of the new key, after a
-- repin): the channels it took part in still name it. Name and key are
-- unique among peers still pinned only, so a name can be pinned again.
-- The table is rebuilt the way SQLite documents for a changed constraint;
-- the migration runner turns foreign keys off around it and checks them
-- before the commit.
CREATE TABLE peers_v7 (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token        TEXT NOT NULL,
    addrs        TEXT NOT NULL,            -- JSON array of HOST:PORT, primary first
    rel          TEXT,                     -- releasability code (SPEC §7)
    verified     INTEGER NOT NULL DEFAULT 0,
    handshake_ts INTEGER NOT NULL DEFAULT 0, -- last accepted initiator clock (replay guard, SPEC §3)
    added_at     INTEGER NOT NULL,
    removed_at   INTEGER,                  -- no longer pinned since (Unix ms)
    replaced_by  INTEGER REFERENCES peers_v7(id) -- the row of the key that replaced this one
);
INSERT INTO peers_v7 (id, name, token, addrs, rel, verified, handshake_ts, added_at)
    SELECT id, name, token, addrs, rel, verified, handshake_ts, added_at FROM peers;
DROP TABLE peers;
ALTER TABLE peers_v7 RENAME TO peers;
CREATE UNIQUE INDEX peers_pinned_name ON peers(name) WHERE removed_at IS NULL;
CREATE UNIQUE INDEX peers_pinned_token ON peers(token) WHERE removed_at IS NULL;
