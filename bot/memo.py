"""Values kept for a while in this process, each with the time it was worked out.

One mechanism for the figures that are too dear to count on every view: the chat's
wide-scope figures (models/widecache.py) and the workbench's (bot/web/common.kept).
Time is the caller's clock; a value counts as fresh from when it was worked out until
`ttl` later, so a clock set back recounts rather than serving the future's figures.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Any


class Memo:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._kept: dict[Hashable, tuple[datetime, Any]] = {}

    def get(self, key: Hashable, now: datetime, ttl: timedelta) -> tuple[Any, datetime] | None:
        """(value, worked out at) if `key` was worked out less than `ttl` before `now`."""
        hit = self._kept.get(key)
        if hit is None or not hit[0] <= now < hit[0] + ttl:
            return None
        return hit[1], hit[0]

    def put(self, key: Hashable, value: Any, now: datetime) -> None:
        if key not in self._kept and len(self._kept) >= self.max_entries:
            del self._kept[min(self._kept, key=lambda k: self._kept[k][0])]  # the oldest
        self._kept[key] = (now, value)

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._kept

    def clear(self) -> None:
        self._kept.clear()
