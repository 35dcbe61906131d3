"""数据库能不能写：一次真写入的探测，文件被删/只读/磁盘满/锁住/服务器停了都算“不能写”。

`DbHealth` is what /healthz answers from and what the dispatcher asks before
handling an event (bot/journal.py keeps the event while the database is down):

* ``probe()``: a real write (an upsert of one row of ``inbound_event`` with
  platform ``_health``), one at a time, bounded in time;
* ``usable()``: cheap, for every event — not marked down, and for SQLite the
  file at the configured path is still the one we opened (deleting it under a
  running server would otherwise acknowledge writes that go nowhere);
* a SQLite connection that failed as read-only is closed, so the next query
  reopens it and sees permissions that came back;
* while SQLite is known to be down, a probe first asks for the write lock without
  waiting, on a connection of its own: a lock held by another process answers "still
  down" at once. Through tortoise the probe would wait SQLite's busy timeout (5 s) in
  tortoise's one thread, past its own 3 s, and the journal probes every 0.25 s: while
  the lock was held the waits queued up there, ahead of everything else.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tortoise import connections

from bot.db import sqlite_path
from bot.sqlite_direct import is_locked

log = logging.getLogger("lianxin.db")

# Below this much free space next to the SQLite file a write is about to fail.
MIN_FREE_BYTES = 256 * 1024

_PROBE_SQLITE = (
    "INSERT INTO inbound_event (platform, event_key, user_key, command, created_at) "
    "VALUES ('_health', 'probe', '', '', ?) "
    "ON CONFLICT (platform, event_key) DO UPDATE SET created_at = excluded.created_at"
)
_PROBE_PG = _PROBE_SQLITE.replace("?", "$1")


class DbHealth:
    def __init__(self, url: str, probe_timeout: float = 3.0) -> None:
        self.path = sqlite_path(url)
        self.probe_timeout = probe_timeout
        self.down = False
        self.reason = ""
        self._file_id: tuple[int, int] | None = None
        self._checked: str | None = None  # this pass's _file_problem (usable)
        self._probing: asyncio.Task[bool] | None = None

    # -- cheap checks -------------------------------------------------------
    def remember_file(self) -> None:
        """Call after opening the database: the SQLite file we are writing to."""
        self._checked = None
        if self.path is not None:
            try:
                st = os.stat(self.path)
                self._file_id = (st.st_dev, st.st_ino)
            except OSError:
                self._file_id = None

    def _file_problem(self) -> str:
        if self.path is None:
            return ""
        try:
            st = os.stat(self.path)
        except OSError:
            return f"database file {self.path} is gone"
        if self._file_id is not None and (st.st_dev, st.st_ino) != self._file_id:
            return "database file replaced"
        return ""

    def usable(self) -> bool:
        return not self.down and not self._file_problem_this_pass()

    def _file_problem_this_pass(self) -> str:
        """`_file_problem`, looked at once per pass of the event loop (a stat costs as much
        as a tenth of a small request). Every event handled in a pass arrived before the
        pass began, so a file deleted before an event arrived is still seen."""
        if self._checked is not None or self.path is None:
            return self._checked or ""
        problem = self._file_problem()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return problem
        self._checked = problem
        # Runs first in the next pass, before the callbacks of what that pass reads.
        loop.call_soon(self._forget_check)
        return problem

    def _forget_check(self) -> None:
        self._checked = None

    def mark_down(self, reason: str) -> None:
        if not self.down:
            log.warning("database unavailable: %s", reason)
        self.down, self.reason = True, reason

    def _mark_up(self) -> None:
        if self.down:
            log.warning("database available again")
        self.down, self.reason = False, ""

    # -- the write probe ----------------------------------------------------
    async def probe(self) -> bool:
        """True when a real write succeeds now; one probe at a time, shared."""
        if self._probing is None or self._probing.done():
            self._probing = asyncio.create_task(self._probe())
        return await asyncio.shield(self._probing)

    async def _probe(self) -> bool:
        problem = self._file_problem()
        if problem == "database file replaced":
            # A restored file: write to it, not to the one that was removed.
            await self._reconnect()
            self.remember_file()
            problem = ""
        if not problem and self.path is not None:
            try:
                vfs = os.statvfs(self.path.parent)
                if vfs.f_bavail * vfs.f_frsize < MIN_FREE_BYTES:
                    problem = f"disk full at {self.path.parent}"
            except OSError as exc:
                problem = str(exc)
        if not problem and self.down and self.path is not None:
            if await asyncio.to_thread(_locked_elsewhere, self.path):
                problem = "OperationalError: database is locked"
        if problem:
            self.mark_down(problem)
            return False
        try:
            conn = connections.get("default")
            postgres = conn.capabilities.dialect == "postgres"
            now = datetime.now(UTC)
            sql, value = (_PROBE_PG, now) if postgres else (_PROBE_SQLITE, now.isoformat(sep=" "))
            await asyncio.wait_for(conn.execute_query(sql, [value]), self.probe_timeout)
        except Exception as exc:  # whatever it is, the database cannot be written
            self.mark_down(f"{type(exc).__name__}: {exc}")
            if self.path is not None and "readonly" in str(exc).lower():
                # SQLite opened read-only stays read-only: reopen on the next query.
                await self._reconnect()
            return False
        self._mark_up()
        return True

    @staticmethod
    async def _reconnect() -> None:
        client = connections.get("default")
        lock = getattr(client, "_lock", None)
        if lock is None:
            return
        async with lock:
            await client.close()


def _locked_elsewhere(path: Path) -> bool:
    """Another connection holds SQLite's write lock right now (asked without waiting,
    and without creating a missing file). Any other error is for the real probe."""
    try:
        uri = f"{path.resolve().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.Error as exc:
        return is_locked(exc)
    finally:
        conn.close()
