-- hotline storage, version 10: the highest leader epoch accepted from each
-- peer's key in a handshake. A peer whose station runs as a leader and a
-- standby on a shared database grows its epoch on every takeover; a
-- handshake carrying a lower one is refused (a former leader speaking).
ALTER TABLE peers ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
