"""OneBot 12 实现（个人微信桥接等）最近的状态：谁在线，供 /healthz 与 lianxin channels 查看。"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

# An implementation that sends no heartbeat is "online" this long after it was last heard.
QUIET_SECONDS = 300.0
MIN_WINDOW_SECONDS = 30.0


class Onebot12Bridge(Model):
    """一个 OneBot 12 实现（按 X-Impl 区分）：版本、心跳间隔、是否正常、它的机器人账号。

    ``bots`` is ``[{"platform", "user_id", "online"}]`` as last reported
    (``status_update``) or seen (a message from that account).
    """

    id = fields.IntField(primary_key=True)
    impl = fields.CharField(max_length=64, unique=True)
    version = fields.CharField(max_length=32, default="")
    interval_ms = fields.IntField(default=0)
    good = fields.BooleanField(default=True)
    bots = fields.JSONField(default=list)
    last_seen = fields.DatetimeField()

    class Meta:
        table = "onebot12_bridge"

    def window_seconds(self) -> float:
        """Heard from within three heartbeat intervals (or `QUIET_SECONDS` without any)."""
        if self.interval_ms > 0:
            return max(3 * self.interval_ms / 1000, MIN_WINDOW_SECONDS)
        return QUIET_SECONDS

    def is_online(self, now: datetime) -> bool:
        return self.good and (now - self.last_seen).total_seconds() <= self.window_seconds()

    def summary(self, now: datetime) -> dict[str, Any]:
        """What /healthz shows: the implementation and each bot account, online or not."""
        alive = self.is_online(now)
        return {
            "impl": self.impl,
            "version": self.version,
            "last_seen": self.last_seen.isoformat(),
            "online": alive,
            "bots": [{**bot, "online": alive and bool(bot.get("online"))} for bot in self.bots],
        }

    def set_bot(self, platform: str, user_id: str, online: bool) -> bool:
        """Record one account's state; True when that changed something."""
        for bot in self.bots:
            if bot["platform"] == platform and bot["user_id"] == user_id:
                changed = bot["online"] != online
                bot["online"] = online
                return changed
        self.bots = sorted(
            [*self.bots, {"platform": platform, "user_id": user_id, "online": online}],
            key=lambda b: (b["platform"], b["user_id"]),
        )
        return True

    async def store(self) -> None:
        """Write this state (one row per implementation; the newest word wins)."""
        values = {
            "version": self.version,
            "interval_ms": self.interval_ms,
            "good": self.good,
            "bots": self.bots,
            "last_seen": self.last_seen,
        }
        if await Onebot12Bridge.filter(impl=self.impl).update(**values):
            return
        try:
            await Onebot12Bridge.create(impl=self.impl, **values)
        except IntegrityError:  # another process created it first
            await Onebot12Bridge.filter(impl=self.impl).update(**values)
