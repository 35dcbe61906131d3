"""有人说话就是联系上了（失联排查）：每人每天最多记一次最后联系。

The dispatcher calls `note(person_id)` for every message from someone the bot
knows; the first of each local day per process returns the write to run (after the
reply, as tracked background work), the rest return None, so a busy chat costs one
small UPDATE per person a day.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo


class SeenToday:
    def __init__(self, now: Callable[[], datetime], tz: str = "Asia/Shanghai") -> None:
        self.now = now  # the runtime's clock, read each time (tests swap it)
        self.tz = ZoneInfo(tz)
        self._day: date | None = None
        self._seen: set[int] = set()

    def note(self, person_id: int) -> Coroutine[Any, Any, Any] | None:
        now = self.now()
        today = now.astimezone(self.tz).date()
        if today != self._day:
            self._day, self._seen = today, set()
        if person_id in self._seen:
            return None
        self._seen.add(person_id)
        from models.grids.ladder import record_contact

        return record_contact([person_id], now, "message")
