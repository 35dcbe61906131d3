"""定时任务的计时器（apscheduler）。The broadcaster (bot/broadcaster.py) puts its timers
here when its process leads; the database stays the source of truth."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler


def make_scheduler(timezone: str) -> AsyncIOScheduler:
    # apscheduler logs every run of every job at INFO: the 15-second tick would flood
    # the log. Failures still show (WARNING and up); ours log what they do.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return AsyncIOScheduler(timezone=timezone, job_defaults={"coalesce": True, "max_instances": 1})
