"""OneBot 12 元事件：哪些实现（桥接）和机器人账号在线。

An implementation says it is alive with ``meta`` events (``connect`` with its
``version``, ``heartbeat`` every ``interval`` ms, ``status_update`` with
``status {good, bots: [{self, online}]}``) and by posting messages at all.
ComWeChatBotClient over a webhook sends only heartbeats (when enabled) and
messages, so both count. An implementation is named by its ``X-Impl`` header
(or ``version.impl``); heartbeats carry no ``self``.

A bot is online when the last word about it said so and its implementation was
heard from within three heartbeat intervals (``QUIET_SECONDS`` when it sends no
heartbeat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

QUIET_SECONDS = 300.0
MIN_WINDOW_SECONDS = 30.0


@dataclass(slots=True)
class _Impl:
    name: str
    last_seen: float
    version: str = ""
    interval_ms: int = 0
    good: bool = True
    # (self.platform, self.user_id) → online as last reported
    bots: dict[tuple[str, str], bool] = field(default_factory=dict)

    def window(self) -> float:
        if self.interval_ms > 0:
            return max(3 * self.interval_ms / 1000, MIN_WINDOW_SECONDS)
        return QUIET_SECONDS


class Bridges:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._impls: dict[str, _Impl] = {}

    def _impl(self, name: str) -> _Impl:
        name = name.strip()[:64] or "unknown"
        impl = self._impls.get(name)
        if impl is None:
            impl = self._impls[name] = _Impl(name, self.clock())
        impl.last_seen = self.clock()
        return impl

    def saw(self, impl_name: str, platform: str, user_id: str) -> None:
        """A message from this bot account: it is online."""
        self._impl(impl_name).bots[(platform, user_id)] = True

    def meta(self, event: dict[str, Any], impl_name: str) -> None:
        detail = event.get("detail_type")
        version = event.get("version") if isinstance(event.get("version"), dict) else {}
        impl = self._impl(impl_name or str(version.get("impl") or ""))
        if detail == "connect":
            impl.version = str(version.get("version") or "")[:32]
        elif detail == "heartbeat":
            interval = event.get("interval")
            if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0:
                impl.interval_ms = interval
        elif detail == "status_update":
            status = event.get("status") if isinstance(event.get("status"), dict) else {}
            impl.good = bool(status.get("good", True))
            for bot in status.get("bots") or []:
                me = bot.get("self") if isinstance(bot, dict) else None
                if isinstance(me, dict) and me.get("platform") and me.get("user_id"):
                    key = (str(me["platform"]), str(me["user_id"]))
                    impl.bots[key] = bool(bot.get("online"))

    def online(self) -> list[dict[str, Any]]:
        """Every implementation heard from, with its bots and whether each is online."""
        now = self.clock()
        out = []
        for impl in self._impls.values():
            alive = impl.good and now - impl.last_seen <= impl.window()
            out.append(
                {
                    "impl": impl.name,
                    "version": impl.version,
                    "last_seen": datetime.fromtimestamp(impl.last_seen, UTC).isoformat(),
                    "online": alive,
                    "bots": [
                        {"platform": p, "user_id": u, "online": alive and on}
                        for (p, u), on in sorted(impl.bots.items())
                    ],
                }
            )
        return out
