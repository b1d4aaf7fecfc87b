-- hotline storage, version 2: one piece of equivocation evidence per
-- (channel, author, seq). Earlier versions stored another row each time the
-- peer sent the forked entry again; the first of each is kept.
DELETE FROM evidence
 WHERE id NOT IN (SELECT MIN(id) FROM evidence GROUP BY channel, author, seq);
CREATE UNIQUE INDEX evidence_once ON evidence(channel, author, seq);
