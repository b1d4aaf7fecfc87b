-- hotline storage, version 3: the audit log's signed head. One row, replaced
-- in the transaction that adds each audit line: the number of lines, the
-- newest line's hash, and the station's Ed25519 signature over both.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    sig   BLOB NOT NULL
);
