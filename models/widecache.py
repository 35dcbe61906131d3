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
from typing import Any, TypeVar

from models.people import Organization

T = TypeVar("T")
TTL = timedelta(seconds=60)
WIDE_ORGS = 100  # organisations in the scope from which it counts as wide (a street has ~110)
MAX_ENTRIES = 256

_kept: dict[Hashable, tuple[datetime, Any]] = {}
_width: dict[tuple[str, ...], tuple[datetime, bool]] = {}  # is_wide, asked at most once a TTL


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
    paths = list(paths)
    hit = _kept.get(key)
    if hit is not None and hit[0] <= now < hit[0] + TTL:
        value: T = hit[1]
        return value
    value = await count()
    scope = tuple(sorted(paths))
    width = _width.get(scope)
    if width is None or not width[0] <= now < width[0] + TTL:
        if len(_width) >= 4 * MAX_ENTRIES:
            _width.clear()
        width = _width[scope] = (now, await is_wide(scope))
    if width[1]:
        if len(_kept) >= MAX_ENTRIES:  # the oldest goes first
            del _kept[min(_kept, key=lambda k: _kept[k][0])]
        _kept[key] = (now, value)
    return value


def forget() -> None:
    """Drop every kept figure (tests)."""
    _kept.clear()
    _width.clear()
