"""Reading many rows without holding the event loop.

One query for thousands of rows turns them all into model objects in one go, and
nothing else runs in the process meanwhile (a job over a whole district: a second or
more). Pages of `size` rows by id (keyset, so no row is skipped or read twice) let the
members' messages in between.
"""

from __future__ import annotations

import asyncio
from typing import Any

PAGE = 500


async def in_pages(query: Any, size: int = PAGE) -> list[Any]:
    """Every row of `query` (a tortoise QuerySet), read `size` at a time in id order."""
    rows: list[Any] = []
    last: int | None = None
    while True:
        page = (
            await (query if last is None else query.filter(id__gt=last)).order_by("id").limit(size)
        )
        rows += page
        if len(page) < size:
            return rows
        last = page[-1].id
        await asyncio.sleep(0)


async def breathe(i: int, every: int = 200) -> None:
    """In a long loop of CPU work (rendering thousands of texts): let others run."""
    if i and i % every == 0:
        await asyncio.sleep(0)
