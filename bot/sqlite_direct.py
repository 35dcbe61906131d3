"""SQLite 的直接写入：短小的写语句在事件循环的线程里直接提交，不经 aiosqlite 的线程。

Through tortoise, every statement goes to aiosqlite's worker thread and back: a queue
hand-off, a thread woken, the GIL passed back and forth, a callback through the loop's
self-pipe. For the statements the hot paths write most (a batch of dedup keys per group
commit, bot/dedup.py; a firing's claims and answers, models/deliveries.py), measured at
concurrency 64, that path cost ~40 µs of CPU per message and made the server work in
waves (#15), and about a tenth of a broadcast's CPU per delivery.

`DIRECT.execute` runs one autocommit statement on a connection of our own opened beside
tortoise's, as durable as tortoise's (same ``synchronous``; WAL). It never waits: the
connection's busy timeout is zero, so when the file is locked (a transaction of this
process or another one holds the write lock) or cannot be written at all, it returns
None and the caller runs the statement through tortoise as before, with the errors and
waits it always had. Inside a tortoise transaction it always returns None (the statement
belongs to that transaction). The connection never checkpoints (a checkpoint fsyncs, and
the event loop would wait for it): every `CHECKPOINT_EVERY` statements it asks tortoise's
connection for a passive one, in its thread.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient

log = logging.getLogger("lianxin.db")

# A passive checkpoint through tortoise after this many statements written here (each
# writes a few pages; SQLite's own default is every 1,000 pages).
CHECKPOINT_EVERY = 200
# tortoise's own journal_size_limit (bytes), unless the database URL sets one.
JOURNAL_SIZE_LIMIT = 16384
# After an error other than "locked" (read-only, disk full, file gone), batches go the
# tortoise way for this long before this connection is tried again.
BACKOFF_SECONDS = 1.0


def is_locked(exc: sqlite3.Error) -> bool:
    """SQLite's answer when another connection holds the lock (not a real failure)."""
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


class DirectSqlite:
    """Short autocommit statements on the event loop's thread, for tortoise's SQLite
    client only (one per process: `DIRECT`)."""

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None
        self._owner: Any = None  # tortoise's aiosqlite connection ours was opened beside
        self._retry_at = 0.0
        self._since_checkpoint = 0
        self.checkpoint: asyncio.Task[None] | None = None  # the last one asked for
        self.written = 0  # statements written here (tests check the path is taken)

    def execute(self, client: Any, sql: str, values: list[Any]) -> list[tuple[Any, ...]] | None:
        """The rows the statement returned ([] without RETURNING), or None: run it
        through ``client`` (tortoise) instead."""
        if isinstance(client, TransactionalDBClient):
            return None
        conn = self._connection(client)
        if conn is None:
            return None
        try:
            rows = conn.execute(sql, values).fetchall()
        except sqlite3.Error as exc:
            if conn.in_transaction:  # not expected in autocommit; never leave one open
                conn.rollback()
            if not is_locked(exc):
                log.info("sqlite: statements go through tortoise for a while: %s", exc)
                self._close()
                self._retry_at = time.monotonic() + BACKOFF_SECONDS
            return None
        self.written += 1
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            self._start_checkpoint(client)
        return rows

    def _start_checkpoint(self, client: Any) -> None:
        """A passive checkpoint of what was written here, in tortoise's thread."""
        if self.checkpoint is not None and not self.checkpoint.done():
            return

        async def checkpoint() -> None:
            try:
                await client.execute_query_dict("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # the next one will try again
                log.info("sqlite: checkpoint not done: %s", exc)

        self.checkpoint = asyncio.create_task(checkpoint())

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
            pragmas = getattr(client, "pragmas", {})
            synchronous = str(pragmas.get("synchronous", "FULL"))
            if not synchronous.isalnum():
                synchronous = "FULL"
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            # Under load most writes are ours, so the WAL starts over after a checkpoint
            # on this connection: cut back to tortoise's limit then, or the file keeps
            # the size of the busiest minute (234 MB after a minute of 6,000 messages/s).
            limit = str(pragmas.get("journal_size_limit", JOURNAL_SIZE_LIMIT))
            conn.execute(f"PRAGMA journal_size_limit={int(limit) if limit.isdigit() else -1}")
        except sqlite3.Error as exc:
            log.info("sqlite: statements go through tortoise for a while: %s", exc)
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


DIRECT = DirectSqlite()
