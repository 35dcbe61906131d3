"""选主：几个 `lianxin serve` 进程里只有一个触发定时推送。

With PostgreSQL the leader is whoever holds a session advisory lock on its own
connection (not one from the pool, since the lock lives as long as the session).
When the leader process dies, the server drops its connection and the lock with
it; the next campaign round of another process (every
``[broadcasts] leader_poll_seconds``) takes over. A leader checks its
connection each round and stands down if it is gone.

SQLite serves one process, which is always the leader.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.db import is_sqlite, normalise_url

log = logging.getLogger("lianxin.leader")

# pg_try_advisory_lock key: "连心" broadcasts, one per database.
LOCK_KEY = 0x4C58_4252_4F41_4443 & 0x7FFF_FFFF_FFFF_FFFF


class Leadership:
    is_leader = False

    async def campaign(self) -> bool:
        raise NotImplementedError

    async def release(self) -> None:
        self.is_leader = False


class SoleProcess(Leadership):
    """SQLite: one process; it leads."""

    async def campaign(self) -> bool:
        self.is_leader = True
        return True


class AdvisoryLock(Leadership):
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.conn: Any = None

    async def campaign(self) -> bool:
        import asyncpg

        try:
            if self.conn is None:
                self.conn = await asyncpg.connect(self.url, timeout=5)
            if self.is_leader:
                await self.conn.fetchval("SELECT 1", timeout=5)
                return True
            got = await self.conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=5)
        except Exception as exc:
            if self.is_leader:
                log.warning("leader connection lost: %s", exc)
            await self._drop()
            return False
        self.is_leader = bool(got)
        return self.is_leader

    async def _drop(self) -> None:
        self.is_leader = False
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

    async def release(self) -> None:
        await self._drop()


def make_leadership(url: str) -> Leadership:
    return SoleProcess() if is_sqlite(url) else AdvisoryLock(url)
