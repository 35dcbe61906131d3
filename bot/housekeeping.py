"""平台自己的定时维护：删除过期的去重键（inbound_event）。

A job like the services' (`@router.every`): the broadcaster keeps its row and the
leader alone fires it (bot/leader.py), so two processes never prune at once. It sends
nothing. Runtime.build adds this router after the services'.

Platforms retry an event within seconds to minutes (WeChat: three tries in 15 s), so a
key older than ``[dedup] keep_days`` protects nothing and only grows the table and its
unique index by every message. Every 10 minutes, outside quiet hours like every job: a
tick deletes at most PRUNE_CHUNK × PRUNE_CHUNKS rows (models/events.py), a steady day's
keys in a few statements, and a backlog left by an upgrade over the day's ticks.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.registry import Router
from models.events import InboundEvent, dedup_cutoff

log = logging.getLogger("lianxin.housekeeping")

PRUNE_EVERY_SECONDS = 600

router = Router("housekeeping")


@router.every(lambda config: PRUNE_EVERY_SECONDS)
async def prune_inbound_events(runtime: Any, now: datetime) -> list[Any]:
    """Delete the dedup keys older than [dedup] keep_days (0: keep them all)."""
    cutoff = dedup_cutoff(now, runtime.config.dedup.keep_days)
    if cutoff is not None:
        deleted = await InboundEvent.prune(cutoff)
        if deleted:
            log.info("pruned %d dedup keys written before %s", deleted, cutoff.isoformat())
    return []
