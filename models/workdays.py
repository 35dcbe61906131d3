"""工作日：按国务院办公厅公布的节假日和调休安排计算办理时限。

Pure functions, no database. The official calendar comes from the `chinesecalendar`
package (its authors add each year's arrangement when it is published). A year it does
not know yet falls back to Monday–Friday, with one warning in the log per year.

"Working time" is the whole of every working day: a limit of "3工作日" filed on a
Friday at 10:00 ends on the third working day after, at 10:00; filed on a Saturday
it starts on Monday at 00:00. Pauses (待补充) keep the working time that was left.
Days begin at midnight on the configured clock (`[bot] timezone`, bot.clock.zone()).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from bot.clock import DEFAULT_ZONE, zone

log = logging.getLogger("lianxin.workdays")

# The default zone; every function counts days on the configured clock (`[bot] timezone`,
# bot.clock.zone()) unless given another.
TZ = ZoneInfo(DEFAULT_ZONE)
DAY = timedelta(days=1)
# Long enough for any official holiday (the longest is 8–9 days) plus weekends.
MAX_DAYS = 3660

LIMIT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(工作日|个工作日|天|日|小时|h|)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Limit:
    """A time limit: `amount` hours, or `amount` working days when `workdays`."""

    amount: float
    workdays: bool = False

    def __str__(self) -> str:
        n = f"{self.amount:g}"
        return f"{n}工作日" if self.workdays else f"{n}小时"


def parse_limit(value: int | float | str | Limit) -> Limit:
    """`72`, `"72"`, `"72小时"` → hours; `"3工作日"` → working days; `"2天"` → 48 hours.

    Raises ValueError for anything else (or a limit that is not positive).
    """
    if isinstance(value, Limit):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a time limit: {value!r}")
    if isinstance(value, int | float):
        limit = Limit(float(value))
    else:
        m = LIMIT_RE.match(value)
        if m is None:
            raise ValueError(f"not a time limit: {value!r}")
        amount, unit = float(m.group(1)), m.group(2)
        if unit in ("工作日", "个工作日"):
            limit = Limit(amount, workdays=True)
        elif unit in ("天", "日"):
            limit = Limit(amount * 24)
        else:
            limit = Limit(amount)
    if limit.amount <= 0:
        raise ValueError(f"a time limit must be positive: {value!r}")
    return limit


@lru_cache(maxsize=64)
def _warn_unknown_year(year: int) -> None:
    log.warning(
        "the official holiday calendar for %s is not known to chinesecalendar %s: "
        "counting Monday-Friday as working days (upgrade the package once it is published)",
        year,
        getattr(chinese_calendar, "__version__", "?"),
    )


def is_workday(day: date) -> bool:
    """A working day on China's official calendar (调休 make-up days included)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.weekday() < 5


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def add_working(start: datetime, seconds: float, tz: ZoneInfo | None = None) -> datetime:
    """The moment when `seconds` of working time have passed since `start` (UTC)."""
    tz = tz or zone()
    here = start.astimezone(tz)
    left = timedelta(seconds=seconds)
    for _ in range(MAX_DAYS):
        day = here.date()
        midnight = _midnight(day + DAY, tz)
        if is_workday(day):
            room = midnight - here
            if left <= room:
                return (here + left).astimezone(UTC)
            left -= room
        here = midnight
    raise ValueError("no working days in ten years")


def working_seconds(start: datetime, end: datetime, tz: ZoneInfo | None = None) -> float:
    """Working time between two moments; negative when `end` is before `start`."""
    tz = tz or zone()
    if end < start:
        return -working_seconds(end, start, tz)
    here, end = start.astimezone(tz), end.astimezone(tz)
    total = timedelta(0)
    while here < end:
        midnight = _midnight(here.date() + DAY, tz)
        stop = min(midnight, end)
        if is_workday(here.date()):
            total += stop - here
        here = stop
    return total.total_seconds()


def due(start: datetime, limit: int | float | str | Limit, tz: ZoneInfo | None = None) -> datetime:
    """When a request filed at `start` with this limit is due."""
    tz = tz or zone()
    lim = parse_limit(limit)
    if lim.workdays:
        return add_working(start, lim.amount * DAY.total_seconds(), tz)
    return start + timedelta(hours=lim.amount)


def left_at_pause(
    due_at: datetime, paused_at: datetime, workdays: bool, tz: ZoneInfo | None = None
) -> float:
    """Seconds of the limit that were left when the clock stopped (negative: overdue)."""
    tz = tz or zone()
    if workdays:
        return working_seconds(paused_at, due_at, tz)
    return (due_at - paused_at).total_seconds()


def resume_due(
    due_at: datetime,
    paused_at: datetime,
    resumed_at: datetime,
    workdays: bool,
    tz: ZoneInfo | None = None,
) -> datetime:
    """The new due time after a pause: what was left at `paused_at`, counted from
    `resumed_at` (working time for working-day limits). A request already overdue when
    it paused keeps its due time: asking the requester does not excuse a late answer."""
    tz = tz or zone()
    left = left_at_pause(due_at, paused_at, workdays, tz)
    if left <= 0:
        return due_at
    if workdays:
        return add_working(resumed_at, left, tz)
    return resumed_at + timedelta(seconds=left)


def remind_from(
    now: datetime, lead_hours: float, workdays: bool, tz: ZoneInfo | None = None
) -> datetime:
    """Requests due at or before this moment are "due soon" at `now`: the lead time is
    working time for working-day limits (a Friday-evening reminder for a Monday deadline
    would otherwise come on Friday morning)."""
    tz = tz or zone()
    seconds = lead_hours * 3600
    if workdays:
        return add_working(now, seconds, tz)
    return now + timedelta(seconds=seconds)
