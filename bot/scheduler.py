"""定时任务的启动与关闭（apscheduler）。Later services register their jobs here;
the database stays the source of truth, jobs are rebuilt from it at start."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler


def make_scheduler(timezone: str) -> AsyncIOScheduler:
    return AsyncIOScheduler(timezone=timezone, job_defaults={"coalesce": True, "max_instances": 1})
