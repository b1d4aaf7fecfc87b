-- hotline storage, version 15: which entries came by courier (hotline
-- bundle import), as ranges of an author's seqs, with the bundle that
-- brought them. Informative (the console marks them); the entries
-- themselves are stored as any other.
CREATE TABLE courier (
    channel BLOB NOT NULL REFERENCES channels(id),
    author  INTEGER NOT NULL CHECK (author IN (0, 1)),
    first   INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    bundle  BLOB NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (channel, author, first)
);
