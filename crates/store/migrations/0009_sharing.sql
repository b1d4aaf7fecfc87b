-- hotline storage, version 9: partner sharing (SPEC §7). Reports published
-- here, in publication order (`n`); what became of each for each partner;
-- and whether sharing with a partner is paused.
CREATE TABLE reports (
    n            INTEGER PRIMARY KEY,
    id           BLOB NOT NULL UNIQUE,     -- SHA-256 of the report's canonical CBOR
    title        TEXT NOT NULL,
    marking      TEXT NOT NULL,            -- TLP:CLEAR … TLP:RED
    rel_to       TEXT NOT NULL,            -- JSON array of releasability codes
    content_type TEXT NOT NULL,
    content      BLOB NOT NULL,
    published_at INTEGER NOT NULL,
    by           TEXT NOT NULL
);
CREATE TABLE dispositions (
    report      BLOB NOT NULL REFERENCES reports(id),
    peer_id     INTEGER NOT NULL REFERENCES peers(id),
    disposition TEXT NOT NULL,             -- released, held, dropped, withheld-rel, withheld-red
    entry       BLOB,                      -- the entry that carried it, when released
    at          INTEGER NOT NULL,
    PRIMARY KEY (report, peer_id)
);
CREATE TABLE sharing (
    peer_id INTEGER PRIMARY KEY REFERENCES peers(id),
    paused  INTEGER NOT NULL,
    since   INTEGER NOT NULL,
    by      TEXT NOT NULL,
    reason  TEXT NOT NULL
);
