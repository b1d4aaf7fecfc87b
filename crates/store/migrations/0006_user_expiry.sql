-- hotline storage, version 6: a user's token may expire (`user add --expires`).
ALTER TABLE users ADD COLUMN expires_at INTEGER;
