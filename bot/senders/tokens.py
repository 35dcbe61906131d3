"""平台 access_token 缓存：内存 + 数据库（access_token 表），多个进程共用同一个令牌。

WeChat, WeCom and QQ all hand out a two-hour token; a process that fetches its
own (or force-refreshes) can invalidate the one its neighbours use. TokenCache
keeps one token per key ("wechat:<appid>", "wecom:<corpid>:<agentid>", ...):

* ``get(key, fetch)`` answers from memory, then from the database row, and only
  then calls ``fetch`` — once per key at a time in this process (asyncio.Lock).
* ``refresh(key, fetch, stale_token)`` is for "the platform rejected this token":
  concurrent callers holding the same rejected token cause a single fetch; the
  others get the token that fetch produced (or that another process stored).

``fetch`` is ``async () -> (token, expires_in_seconds)``; it may raise, and the
error reaches every caller that was waiting for that fetch (they do not each
repeat a failing request). Token values are never logged, only keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from models.tokens import AccessToken

log = logging.getLogger("lianxin.senders.tokens")

Fetch = Callable[[], Awaitable[tuple[str, float]]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(slots=True)
class _Entry:
    token: str
    expires_at: datetime
    # When to stop handing the token out: expires_at minus the safety margin.
    refresh_at: datetime


class TokenCache:
    """Tokens by key, shared through the AccessToken table.

    margin_seconds: a token counts as expired this long before its expires_at
    (WeChat itself rotates stable tokens 5 minutes early). ``now`` is injectable
    for tests.
    """

    def __init__(
        self,
        *,
        margin_seconds: float = 300.0,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.margin = timedelta(seconds=margin_seconds)
        self._now = now
        self._mem: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Per key: how many fetches have finished, and the error of the last one
        # that failed (with its sequence number), so waiters share that failure.
        self._fetch_seq: dict[str, int] = {}
        self._failure: dict[str, tuple[int, BaseException]] = {}

    # -- public API ---------------------------------------------------------

    async def get(self, key: str, fetch: Fetch) -> str:
        """A token for ``key`` that is good for at least ``margin`` more seconds."""
        entry = self._fresh_mem(key)
        if entry is not None:
            return entry.token
        seen = self._fetch_seq.get(key, 0)
        async with self._lock(key):
            entry = self._fresh_mem(key)
            if entry is not None:
                return entry.token
            self._raise_failure_since(key, seen)
            entry = await self._load(key)
            if entry is not None:
                return entry.token
            return await self._fetch(key, fetch)

    async def refresh(self, key: str, fetch: Fetch, stale_token: str) -> str:
        """Replace ``stale_token`` (the platform rejected it), fetching at most once.

        If this process or another one already replaced it, that token is
        returned without calling ``fetch``.
        """
        seen = self._fetch_seq.get(key, 0)
        async with self._lock(key):
            entry = self._fresh_mem(key)
            if entry is not None and entry.token != stale_token:
                return entry.token
            self._raise_failure_since(key, seen)
            entry = await self._load(key, reject=stale_token)
            if entry is not None:
                return entry.token
            log.info("refreshing access token for %s", key)
            return await self._fetch(key, fetch)

    def cached(self, key: str) -> str | None:
        """The in-memory token, fresh or not (no I/O); for diagnostics and tests."""
        entry = self._mem.get(key)
        return entry.token if entry else None

    def forget(self, key: str) -> None:
        """Drop the in-memory copy (the database row stays)."""
        self._mem.pop(key, None)

    # -- internals ----------------------------------------------------------

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _fresh_mem(self, key: str) -> _Entry | None:
        entry = self._mem.get(key)
        if entry is not None and self._now() < entry.refresh_at:
            return entry
        return None

    def _raise_failure_since(self, key: str, seen: int) -> None:
        """Re-raise the error of a fetch that failed while this caller waited."""
        failure = self._failure.get(key)
        if failure is not None and failure[0] > seen:
            raise failure[1].with_traceback(None)

    async def _load(self, key: str, reject: str | None = None) -> _Entry | None:
        """The database row if it is fresh (and not the rejected token)."""
        try:
            row = await AccessToken.get_or_none(key=key)
        except Exception:
            log.warning("access token cache: cannot read row for %s", key, exc_info=True)
            return None
        if row is None or row.token == reject:
            return None
        expires_at = _aware(row.expires_at)
        refresh_at = expires_at - self.margin
        if self._now() >= refresh_at:
            return None
        entry = _Entry(row.token, expires_at, refresh_at)
        self._mem[key] = entry
        log.debug("access token for %s loaded from the database", key)
        return entry

    async def _fetch(self, key: str, fetch: Fetch) -> str:
        seq = self._fetch_seq.get(key, 0) + 1
        try:
            token, expires_in = await fetch()
        except BaseException as exc:
            self._fetch_seq[key] = seq
            if isinstance(exc, Exception):
                self._failure[key] = (seq, exc)
            raise
        self._fetch_seq[key] = seq
        self._failure.pop(key, None)
        now = self._now()
        lifetime = timedelta(seconds=max(float(expires_in), 0.0))
        expires_at = now + lifetime
        # A token shorter-lived than twice the margin is still used for half its life.
        refresh_at = expires_at - min(self.margin, lifetime / 2)
        self._mem[key] = _Entry(token, expires_at, refresh_at)
        await self._store(key, token, expires_at)
        log.info("new access token for %s, valid %ds", key, int(lifetime.total_seconds()))
        return token

    async def _store(self, key: str, token: str, expires_at: datetime) -> None:
        """update_or_create that survives two processes inserting the same key."""
        values: dict[str, Any] = {
            "token": token,
            "expires_at": expires_at,
            "updated_at": self._now(),
        }
        try:
            if await AccessToken.filter(key=key).update(**values):
                return
            try:
                await AccessToken.create(key=key, **values)
            except IntegrityError:
                # Another process inserted the row between our update and create.
                await AccessToken.filter(key=key).update(**values)
        except Exception as exc:
            # The type only: a driver's message could echo the token value.
            log.warning("access token cache: cannot store row for %s (%s)", key, type(exc).__name__)
