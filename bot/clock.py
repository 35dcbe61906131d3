"""时钟：唯一的“现在”与本地时间。The runtime's clock (`Runtime.clock`, `Ctx.now()`) is the
only "now" of domain time: handlers, jobs and the broadcaster ask it, never
`datetime.now()`, so tests (and `lianxin` tools) can set the time instead of sleeping.
Local time, and the day/week/month/quarter ranges, are read in `[bot] timezone`
(`set_zone`, called by Runtime.build). models/workdays.py alone counts in Beijing time on
purpose: China's official working-day calendar.

`LIANXIN_NOW` (ISO 8601) starts the process clock at another time for drills and
demos; from there it runs on at the normal pace. Never set it in production.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ENV_NOW = "LIANXIN_NOW"
DEFAULT_ZONE = "Asia/Shanghai"
_zone = ZoneInfo(DEFAULT_ZONE)


def set_zone(name: str) -> None:
    """Set the zone every local time is read and shown in: `[bot] timezone`, set by
    Runtime.build. Display (`local`, templates' `when`), day and month ranges ask `zone()`."""
    global _zone
    _zone = ZoneInfo(name)


def zone() -> ZoneInfo:
    return _zone


def local(dt: datetime) -> datetime:
    """A stored (UTC) time on the configured clock."""
    return dt.astimezone(_zone)


def fmt(dt: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) time as people read it, on the configured clock ("" for none)."""
    return local(dt).strftime(pattern) if dt else ""


def day_start(day: date) -> datetime:
    """00:00 of `day` on the configured clock, in UTC (SQLite compares times as UTC text)."""
    return datetime.combine(day, time(0), _zone).astimezone(UTC)


def day_range(now: datetime) -> tuple[datetime, datetime]:
    """[today 00:00, tomorrow 00:00) of `now` on the configured clock, in UTC."""
    d = local(now).date()
    return day_start(d), day_start(d + timedelta(days=1))


def days_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00): calendar days, both ends included."""
    return day_start(first), day_start(last + timedelta(days=1))


def week_range(now: datetime) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of `now`'s week on the configured clock, in UTC."""
    d = local(now).date()
    monday = d - timedelta(days=d.weekday())
    return day_start(monday), day_start(monday + timedelta(days=7))


def month_range(now: datetime) -> tuple[datetime, datetime]:
    """[first day of this month, first day of next month) on the configured clock."""
    d = local(now).date().replace(day=1)
    return day_start(d), day_start((d + timedelta(days=32)).replace(day=1))


def quarter_range(now: datetime) -> tuple[datetime, datetime]:
    """[first day of this quarter, first day of the next) on the configured clock."""
    d = local(now).date()
    first = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    nxt = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return day_start(first), day_start(nxt)


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)


class ManualClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC).replace(microsecond=0)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


class ShiftedClock(Clock):
    """Starts at `start` and runs on in real time (what LIANXIN_NOW gives)."""

    def __init__(self, start: datetime) -> None:
        self._offset = start.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        return (datetime.now(UTC) + self._offset).replace(microsecond=0)


def parse_now(value: str, tz: str = DEFAULT_ZONE) -> datetime:
    """ISO 8601; without an offset the time is read on the configured zone's clock."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{ENV_NOW}: expected an ISO 8601 time like 2026-07-01T09:00+08:00, got {value!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))


def clock_from_env(env: Mapping[str, str] | None = None, tz: str = DEFAULT_ZONE) -> Clock:
    """The system clock, or one started at LIANXIN_NOW."""
    value = (os.environ if env is None else env).get(ENV_NOW, "").strip()
    return ShiftedClock(parse_now(value, tz)) if value else Clock()
