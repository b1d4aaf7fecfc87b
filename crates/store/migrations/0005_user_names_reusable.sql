-- hotline storage, version 5: a user's name is unique among active users
-- only, so a name can be given again once its holder's token was revoked
-- (or rotated, which revokes the old token and adds the new one).
CREATE TABLE users_v5 (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
INSERT INTO users_v5 (id, name, role, token_hash, created_at, revoked_at)
    SELECT id, name, role, token_hash, created_at, revoked_at FROM users;
DROP TABLE users;
ALTER TABLE users_v5 RENAME TO users;
CREATE UNIQUE INDEX users_active_name ON users(name) WHERE revoked_at IS NULL;
