"""去重键的 SQLite 快速写入：在事件循环里直接提交一批键，不经 aiosqlite 的线程。

Through tortoise, every batch of dedup keys went to aiosqlite's worker thread and back:
a queue hand-off, a thread woken, the GIL passed back and forth, a callback through the
loop's self-pipe. Measured at concurrency 64 (WeChat, A/B in one sitting), that path cost
~40 µs of CPU per message, half of it on the second core that the load generator and
PostgreSQL-less deployments share, and its waits made the server work in waves (#15).

Here the batch is one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on a connection of
our own, committed before the claims resolve, as durable as tortoise's (same
``synchronous``; WAL). It never waits: the connection's busy timeout is zero, so when
the file is locked (a transaction of this process or another one holds the write lock)
or cannot be written at all, `insert` returns None and the caller writes the batch
through tortoise as before, with the errors and waits it always had. The connection
never checkpoints (a checkpoint fsyncs, and the event loop would wait for it);
`wants_checkpoint` tells the gate to ask tortoise's connection for a passive one now
and then, in its thread.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

log = logging.getLogger("lianxin.dedup")

# A passive checkpoint through tortoise after this many batches written here (a batch
# writes a few pages; SQLite's own default is every 1,000 pages).
CHECKPOINT_EVERY = 200
# After an error other than "locked" (read-only, disk full, file gone), batches go the
# tortoise way for this long before this connection is tried again.
BACKOFF_SECONDS = 1.0


def _locked(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


class SqliteKeyWriter:
    """Writes dedup batches on the event loop's thread, for tortoise's SQLite client only."""

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None
        self._owner: Any = None  # tortoise's aiosqlite connection ours was opened beside
        self._retry_at = 0.0
        self._since_checkpoint = 0
        self.written = 0  # batches written here (tests check the path is taken)

    def insert(self, client: Any, sql: str, values: list[Any]) -> list[tuple[str, str]] | None:
        """The (platform, event_key) rows the statement inserted, or None: write it
        through ``client`` (tortoise) instead."""
        conn = self._connection(client)
        if conn is None:
            return None
        try:
            rows = conn.execute(sql, values).fetchall()
        except sqlite3.Error as exc:
            if conn.in_transaction:  # not expected in autocommit; never leave one open
                conn.rollback()
            if not _locked(exc):
                log.info("dedup keys go through tortoise for a while: %s", exc)
                self._close()
                self._retry_at = time.monotonic() + BACKOFF_SECONDS
            return None
        self.written += 1
        self._since_checkpoint += 1
        return rows

    def wants_checkpoint(self) -> bool:
        if self._since_checkpoint < CHECKPOINT_EVERY:
            return False
        self._since_checkpoint = 0
        return True

    def _connection(self, client: Any) -> sqlite3.Connection | None:
        owner = getattr(client, "_connection", None)
        if owner is None or getattr(client, "capabilities", None) is None:
            return None
        if client.capabilities.dialect != "sqlite":
            return None
        if self._conn is not None and owner is self._owner:
            return self._conn
        self._close()  # tortoise reconnected (or the first batch): open beside it
        if time.monotonic() < self._retry_at:
            return None
        filename = getattr(client, "filename", "")
        if not filename or filename == ":memory:" or filename.startswith("file:"):
            return None  # a memory database is another one on every connection
        try:
            conn = sqlite3.connect(filename, timeout=0, isolation_level=None)
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.close()  # a rollback journal would make readers wait on our writes
                self._retry_at = float("inf")
                return None
            synchronous = str(getattr(client, "pragmas", {}).get("synchronous", "FULL"))
            if not synchronous.isalnum():
                synchronous = "FULL"
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error as exc:
            log.info("dedup keys go through tortoise for a while: %s", exc)
            self._retry_at = time.monotonic() + BACKOFF_SECONDS
            return None
        self._conn, self._owner = conn, owner
        return conn

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = self._owner = None

    def close(self) -> None:
        self._close()
