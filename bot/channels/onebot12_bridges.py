"""OneBot 12 元事件：哪些实现（桥接）和机器人账号在线。

An implementation says it is alive with ``meta`` events (``connect`` with its
``version``, ``heartbeat`` every ``interval`` ms, ``status_update`` with
``status {good, bots: [{self, online}]}``) and by posting messages at all.
ComWeChatBotClient over a webhook sends only heartbeats (when enabled) and
messages, so both count. An implementation is named by its ``X-Impl`` header
(or ``version.impl``); heartbeats carry no ``self``.

The state lives in memory (/healthz shows this process's view) and in the
``onebot12_bridge`` table for ``lianxin channels``: written when something
changes, and otherwise at most every `STORE_EVERY_SECONDS` (heartbeats come
every few seconds). The online rule is the model's (models/bridges.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from models.bridges import Onebot12Bridge

STORE_EVERY_SECONDS = 30.0


class Bridges:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._impls: dict[str, Onebot12Bridge] = {}
        self._stored_at: dict[str, float] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _impl(self, name: str) -> Onebot12Bridge:
        name = name.strip()[:64] or "unknown"
        impl = self._impls.get(name)
        if impl is None:
            impl = self._impls[name] = Onebot12Bridge(impl=name, bots=[], last_seen=self._now())
        impl.last_seen = self._now()
        return impl

    def _due(self, impl: Onebot12Bridge, changed: bool) -> Onebot12Bridge | None:
        last = self._stored_at.get(impl.impl)
        if changed or last is None or self.clock() - last >= STORE_EVERY_SECONDS:
            self._stored_at[impl.impl] = self.clock()
            return impl
        return None

    def saw(self, impl_name: str, platform: str, user_id: str) -> Onebot12Bridge | None:
        """A message from this bot account: it is online. Returns the state to store, if due."""
        impl = self._impl(impl_name)
        return self._due(impl, impl.set_bot(platform, user_id, True))

    def meta(self, event: dict[str, Any], impl_name: str) -> Onebot12Bridge | None:
        """A meta event. Returns the state to store, if due."""
        detail = event.get("detail_type")
        raw_version = event.get("version")
        version: dict[str, Any] = raw_version if isinstance(raw_version, dict) else {}
        impl = self._impl(impl_name or str(version.get("impl") or ""))
        changed = False
        if detail == "connect":
            impl.version, changed = str(version.get("version") or "")[:32], True
        elif detail == "heartbeat":
            interval = event.get("interval")
            if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0:
                changed, impl.interval_ms = impl.interval_ms != interval, interval
        elif detail == "status_update":
            raw_status = event.get("status")
            status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
            good = bool(status.get("good", True))
            changed, impl.good = impl.good != good, good
            for bot in status.get("bots") or []:
                me = bot.get("self") if isinstance(bot, dict) else None
                if isinstance(me, dict) and me.get("platform") and me.get("user_id"):
                    on = bool(bot.get("online"))
                    changed |= impl.set_bot(str(me["platform"]), str(me["user_id"]), on)
        return self._due(impl, changed)

    def online(self) -> list[dict[str, Any]]:
        """Every implementation this process heard from, with its bots, online or not."""
        now = self._now()
        return [impl.summary(now) for impl in self._impls.values()]


async def stored_lines(database_url: str) -> list[str]:
    """``lianxin channels``: the implementations on record and whether each is online now."""
    from bot.db import close_db, init_db

    lines = ["", "OneBot 12 实现（桥接）："]
    try:
        await init_db(database_url)
    except Exception as exc:  # no database yet, or unreachable: say so, do not crash
        return [*lines, f"  数据库不可用，无法查看（{type(exc).__name__}）"]
    try:
        rows = await Onebot12Bridge.all().order_by("impl")
    except Exception as exc:
        return [*lines, f"  还没有记录（{type(exc).__name__}；先 lianxin db upgrade）"]
    finally:
        await close_db()
    if not rows:
        return [*lines, "  还没有实现发来过事件"]
    now = datetime.now(UTC)
    for row in rows:
        info = row.summary(now)
        state = "在线" if info["online"] else "离线"
        lines.append(f"  {row.impl} {row.version or '-'}  {state}  最近 {info['last_seen']}")
        for bot in info["bots"]:
            bot_state = "在线" if bot["online"] else "离线"
            lines.append(f"    {bot['platform']}:{bot['user_id']}  {bot_state}")
    return lines
