"""有人说话就是联系上了（失联排查）：每人每天最多记一次最后联系。

The dispatcher calls `note(person_id)` for every message from someone the bot
knows; the first of each local day per process returns the write to run (after the
reply, as tracked background work), the rest return None, so a busy chat costs one
small UPDATE per person a day.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

# (person ids, now, how) → the write; the grids service offers one that also moves a
# member back to 正常 on the lost-contact ladder (Registry.provided("record_contact")).
RecordContact = Callable[[Iterable[int], datetime, str], Awaitable[Any]]


async def last_seen(person_ids: Iterable[int], now: datetime, via: str) -> None:
    """Without the grids service: only the last contact moves (checkin's /失联 reads it)."""
    from models.people import Person

    await Person.filter(id__in=list(person_ids)).update(last_seen_at=now)


class SeenToday:
    def __init__(
        self,
        now: Callable[[], datetime],
        tz: str = "Asia/Shanghai",
        record: RecordContact | None = None,
    ) -> None:
        self.now = now  # the runtime's clock, read each time (tests swap it)
        self.tz = ZoneInfo(tz)
        self.record = record or last_seen
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
        return self._write(person_id, now)

    async def _write(self, person_id: int, now: datetime) -> None:
        await self.record([person_id], now, "message")
