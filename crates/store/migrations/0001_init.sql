-- hotline storage, version 1. Each numbered file runs once, in order, inside a
-- transaction; PRAGMA user_version records the last one applied.

-- Small station facts (name, creation time).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Pinned counterparts. A peer is unverified until an operator confirms its fingerprint.
CREATE TABLE peers (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    token        TEXT NOT NULL UNIQUE,
    addrs        TEXT NOT NULL,            -- JSON array of HOST:PORT, primary first
    rel          TEXT,                     -- releasability code (SPEC §7)
    verified     INTEGER NOT NULL DEFAULT 0,
    handshake_ts INTEGER NOT NULL DEFAULT 0, -- last accepted initiator clock (replay guard, SPEC §3)
    added_at     INTEGER NOT NULL
);

-- Channels this station takes part in; `me` is this station's author index.
CREATE TABLE channels (
    id         BLOB PRIMARY KEY,
    peer_id    INTEGER NOT NULL REFERENCES peers(id),
    me         INTEGER NOT NULL CHECK (me IN (0, 1)),
    created_at INTEGER NOT NULL
);

-- Every verified entry, as the exact envelope bytes. `cursor` is the commit order.
CREATE TABLE entries (
    cursor    INTEGER PRIMARY KEY AUTOINCREMENT,
    channel   BLOB NOT NULL REFERENCES channels(id),
    author    INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL UNIQUE,
    lamport   INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    stored_at INTEGER NOT NULL,
    envelope  BLOB NOT NULL,
    UNIQUE (channel, author, seq)
);
CREATE INDEX entries_by_channel_cursor ON entries(channel, cursor);

-- The latest checkpoint signed by each side of each channel.
CREATE TABLE checkpoints (
    channel   BLOB NOT NULL REFERENCES channels(id),
    signer    INTEGER NOT NULL,
    envelope  BLOB NOT NULL,
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (channel, signer)
);

-- Proof of equivocation: the stored envelope and the conflicting one, both signed.
CREATE TABLE evidence (
    id          INTEGER PRIMARY KEY,
    channel     BLOB NOT NULL,
    author      INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    stored      BLOB NOT NULL,
    conflicting BLOB NOT NULL,
    at          INTEGER NOT NULL
);

-- Alerts. `channel` is the empty blob for station-wide alerts so the open-key index works.
CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    channel    BLOB NOT NULL,
    key        TEXT NOT NULL,
    cause      TEXT NOT NULL,
    raised_at  INTEGER NOT NULL,
    cleared_at INTEGER
);
CREATE UNIQUE INDEX alerts_one_open ON alerts(channel, key) WHERE cleared_at IS NULL;

-- API users; tokens are stored only as SHA-256.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Hash-chained local audit log of API actions.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    user   TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    prev   BLOB NOT NULL,
    hash   BLOB NOT NULL
);
