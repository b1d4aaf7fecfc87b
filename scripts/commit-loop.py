"""Durable single-row SQLite commits a second (WAL, synchronous=FULL), the
bare loop of `hotline bench`'s sqlite_commits ceiling, in Python's sqlite3.

    python3 scripts/commit-loop.py PATH SECONDS

Run two at once on two files in one directory to see what each station's
flushes reach while the other flushes too (docs/PERFORMANCE.md, "What the
machine leaves"). PATH and its -wal and -shm files are replaced.
"""
import os
import sqlite3
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])
for f in (path, path + "-wal", path + "-shm"):
    try:
        os.remove(f)
    except FileNotFoundError:
        pass
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE t (v BLOB NOT NULL)")
row, n, t0 = os.urandom(300), 0, time.time()
while time.time() - t0 < seconds:
    db.execute("BEGIN")
    db.execute("INSERT INTO t (v) VALUES (?)", (row,))
    db.execute("COMMIT")
    n += 1
print(f"{path}: {n / seconds:.0f} durable commits/s")
