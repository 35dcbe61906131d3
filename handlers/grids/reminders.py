"""每月走访提醒：每月初，每位网格员私下收到本期该走访的住户（经广播器，一月一次）。"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import local
from bot.outbound import Push
from handlers.grids.common import render, router
from models.grids.households import Household, year_rows
from models.grids.rules import progress
from models.people import Identity


@router.every(lambda config: config.grids.reminder_interval_minutes * 60)
async def visit_reminders(runtime: Any, now: datetime) -> list[Push]:
    """During the first `reminder_days` days of a month: each grid member's due households.
    Keyed by month, so a restart or a second run sends nothing twice."""
    cfg = runtime.config.grids
    today = local(now).date()
    if today.day > cfg.reminder_days:
        return []
    households = await Household.filter(worker_id__isnull=False).order_by("address_key", "id")
    years = await year_rows(households, today)
    by_worker: dict[int, list[Any]] = {}
    for h, y in zip(households, years, strict=True):
        by_worker.setdefault(h.worker_id, []).append(y)
    targets = await Identity.targets_of(by_worker)
    month = today.strftime("%Y%m")
    pushes = []
    for worker_id, rows in by_worker.items():
        p = progress(rows, cfg.visits_per_year, today.month)
        if not p.due:
            continue
        text = render(runtime, "grid_reminder", p=p, today=today)
        for target in targets.get(worker_id, []):
            key = f"grid:remind:{month}:{worker_id}:{target}"
            pushes.append(Push(target, text, key, "grid_reminder"))
    return pushes
