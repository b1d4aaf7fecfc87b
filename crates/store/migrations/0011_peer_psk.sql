-- hotline storage, version 11: the stored pre-shared keys of the hybrid
-- post-quantum handshake (SPEC §3), one chain per peer and direction ('out':
-- handshakes this station initiates, 'in': the peer's). A peer without a row
-- is at generation 0 with 32 zero bytes. `prev` is generation gen - 1's key,
-- kept so that a lost reply does not lock the pair out.
CREATE TABLE peer_psk (
    peer_id INTEGER NOT NULL REFERENCES peers(id),
    dir     TEXT NOT NULL CHECK (dir IN ('in', 'out')),
    gen     INTEGER NOT NULL CHECK (gen >= 0),
    key     BLOB NOT NULL CHECK (length(key) = 32),
    prev    BLOB CHECK (prev IS NULL OR length(prev) = 32),
    PRIMARY KEY (peer_id, dir)
);
