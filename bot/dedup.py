"""重试不重复执行：每个入站事件在数据库里有唯一的一行 (platform, event_key)。

Two ways in, chosen by whether the work changes state:

* Read-only answers (/帮助, /我) ride on a group commit: keys that arrive
  while a write is in flight queue up and go to the database in one
  ``INSERT … ON CONFLICT DO NOTHING RETURNING``; the rows returned are the
  ones seen for the first time.
* A command that changes state inserts its key inside the same transaction
  as the change (`claim_in_transaction`), so a crash leaves neither or both.

In front of both sits an in-process map, so a retry that arrives while the
first delivery is still running waits for it and gets the same reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError

from bot.db import driver_time, is_unavailable, placeholders
from bot.sqlite_direct import DIRECT
from models.events import InboundEvent

log = logging.getLogger("lianxin.dedup")

# inbound_event.event_key / user_key: longer values are stored as a digest, so that a
# 300-character message id fits (and fails nobody else's insert) and still dedups.
EVENT_KEY_MAX = 191
USER_KEY_MAX = 160


def stored_key(key: str, limit: int = EVENT_KEY_MAX) -> str:
    """``key`` itself when it fits the column, else a fixed-length digest of it."""
    if len(key) <= limit:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class _Pending:
    platform: str
    event_key: str
    user_key: str
    command: str
    future: asyncio.Future[bool]


class DedupGate:
    def __init__(
        self, flush_interval: float = 0.0, max_batch: int = 500, remember: int = 50_000
    ) -> None:
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.remember = remember
        # Tuples of str: the garbage collector stops tracking them, so 50,000 remembered
        # replies do not lengthen its full passes (event-loop stalls at p99).
        self._recent: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        # A running delivery's key; its future only once a retry waits for it (most never).
        self._inflight: dict[str, asyncio.Future[tuple[str, ...]] | None] = {}
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        # SQLite: batches committed on the loop's thread (bot/sqlite_direct.py).
        self._fast = DIRECT

    # -- in-process view --------------------------------------------------
    def seen_locally(self, key: str) -> tuple[str, ...] | asyncio.Future[tuple[str, ...]] | None:
        """Replies of a finished delivery, the future of a running one, or None."""
        done = self._recent.get(key)
        if done is not None or key not in self._inflight:
            return done
        fut = self._inflight[key]
        if fut is None:
            fut = self._inflight[key] = asyncio.get_running_loop().create_future()
        return fut

    def begin(self, key: str) -> None:
        self._inflight[key] = None

    def end(self, key: str, replies: tuple[str, ...] | None) -> None:
        fut = self._inflight.pop(key, None)
        if replies is not None:
            self._recent[key] = replies
            if len(self._recent) > self.remember:
                self._recent.popitem(last=False)
        if fut is not None and not fut.done():
            fut.set_result(replies or ())

    # -- database: group commit ------------------------------------------
    async def claim_batched(
        self, platform: str, event_key: str, user_key: str = "", command: str = ""
    ) -> bool:
        """True when this is the first delivery of the event (written in the next batch)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(
            _Pending(
                platform,
                stored_key(event_key),
                stored_key(user_key, USER_KEY_MAX),
                command[:32],
                fut,
            )
        )
        if self._flusher is None or self._flusher.done():
            self._wake = asyncio.Event()
            self._flusher = asyncio.create_task(self._flush_loop())
        elif len(self._pending) >= self.max_batch and self._wake:
            self._wake.set()
        return await fut

    async def _flush_loop(self) -> None:
        gather = True
        while self._pending:
            if self.flush_interval > 0:
                try:
                    assert self._wake is not None
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                except TimeoutError:
                    pass
            elif gather:
                # No timer: one pass of the loop lets the requests already running add
                # their keys; whatever comes during the write goes in the next batch.
                await asyncio.sleep(0)
            # Keys that came during a write are all in: the next write starts at once,
            # before the requests of the last batch run, so the database works while they
            # do instead of after them (no second wait per request; issue #15).
            gather = False
            self._wake = asyncio.Event()
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                inserted = await self._insert(batch)
            except Exception as exc:
                if is_unavailable(exc) or len(batch) == 1:
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    continue
                # One bad row must not fail the others: write them one by one.
                inserted = set()
                for p in batch:
                    try:
                        inserted |= await self._insert([p])
                    except Exception as exc:
                        log.warning("dedup key %r not written: %s", p.event_key[:40], exc)
                        if not p.future.done():
                            p.future.set_exception(exc)
            for p in batch:
                if not p.future.done():
                    p.future.set_result(id(p) in inserted)

    async def _insert(self, batch: list[_Pending]) -> set[int]:
        """Write the batch; returns id() of the entries that were new."""
        conn = connections.get("default")
        now = driver_time(conn, datetime.now(UTC))
        # One key twice in one batch: the first wins, the second is a duplicate.
        unique: dict[tuple[str, str], _Pending] = {}
        for p in batch:
            unique.setdefault((p.platform, p.event_key), p)
        rows, values = [], []
        for i, p in enumerate(unique.values()):
            rows.append("(" + ",".join(placeholders(conn, 5, first=i * 5 + 1)) + ")")
            values += [p.platform, p.event_key, p.user_key, p.command, now]
        sql = (
            "INSERT INTO inbound_event (platform, event_key, user_key, command, created_at) "
            f"VALUES {','.join(rows)} ON CONFLICT (platform, event_key) DO NOTHING "
            "RETURNING platform, event_key"
        )
        fast = self._fast.execute(conn, sql, values)
        if fast is not None:
            return {id(unique[key]) for key in fast}
        # execute_query_dict always fetches; execute_query drops RETURNING rows on asyncpg.
        result = await conn.execute_query_dict(sql, values)
        # Only the first copy of a key inside this batch counts as first.
        return {id(unique[(r["platform"], r["event_key"])]) for r in result}

    # -- database: same transaction as the change ------------------------
    @staticmethod
    async def claim_in_transaction(
        platform: str, event_key: str, user_key: str = "", command: str = ""
    ) -> InboundEvent | None:
        """Insert the key; None when it exists (call inside the change's transaction)."""
        try:
            return await InboundEvent.create(
                platform=platform,
                event_key=stored_key(event_key),
                user_key=stored_key(user_key, USER_KEY_MAX),
                command=command[:32],
            )
        except IntegrityError:
            return None

    @staticmethod
    async def stored_replies(platform: str, event_key: str) -> list[str]:
        row = await InboundEvent.filter(platform=platform, event_key=stored_key(event_key)).first()
        if row is None or not row.reply:
            return []
        try:
            return list(json.loads(row.reply))
        except (ValueError, TypeError):
            return []

    async def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and finish a checkpoint, both within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        by = loop.time() + timeout
        if self._flusher and not self._flusher.done():
            if self._wake:
                self._wake.set()
            await asyncio.wait([self._flusher], timeout=max(0.0, by - loop.time()))
        checkpoint = self._fast.checkpoint
        if checkpoint is not None and not checkpoint.done():
            await asyncio.wait([checkpoint], timeout=max(0.0, by - loop.time()))
        self._fast.close()
