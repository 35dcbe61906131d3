"""Figures over a wide scope (a street, the district), reused for a minute.

Counting a district (50,000 members, a month of 30,000 requests, the points ledger) costs
tens to hundreds of milliseconds however it is indexed, and on SQLite every other
message waits behind it. Such figures (/党员统计, /排行, /公开, and the order of
/流动党员's pages, whose rows are still read fresh) are kept per process for
`TTL` after they were counted, so a district's officers asking again within the minute
read the same figures; anything narrower (a community, a branch: what members see) is
counted afresh every time. A minute late is within what a monthly or membership figure
means to its reader; nothing is invalidated, the age is the bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from bot.memo import Memo
from models.people import Organization

T = TypeVar("T")
TTL = timedelta(seconds=60)
WIDE_ORGS = 100  # organisations in the scope from which it counts as wide (a street has ~110)
MAX_ENTRIES = 256

_kept = Memo(MAX_ENTRIES)
_width = Memo(4 * MAX_ENTRIES)  # is_wide, asked at most once a TTL per scope


async def is_wide(paths: Iterable[str]) -> bool:
    """The scope holds at least WIDE_ORGS organisations (counted, not loaded)."""
    total = 0
    for path in paths:
        total += await Organization.filter(path__startswith=path).count()
        if total >= WIDE_ORGS:
            return True
    return False


async def figures(
    key: Hashable, paths: Iterable[str], now: datetime, count: Callable[[], Awaitable[T]]
) -> T:
    """`count()`'s result, or the one kept for `key` if counted less than TTL before `now`
    (the caller's clock). Kept only when the scope `paths` is wide."""
    hit = _kept.get(key, now, TTL)
    if hit is not None:
        value: T = hit[0]
        return value
    value = await count()
    scope = tuple(sorted(paths))
    width = _width.get(scope, now, TTL)
    if width is None:
        wide = await is_wide(scope)
        _width.put(scope, wide, now)
    else:
        wide = width[0]
    if wide:
        _kept.put(key, value, now)
    return value


def forget() -> None:
    """Drop every kept figure (tests)."""
    _kept.clear()
    _width.clear()
