"""网格的台账：走访台账（lianxin export visits）与住户台账（lianxin export households）。

Headers come from templates/zh_CN/commands.toml ([grid_labels.export_*]); files are
registered on the grids router and written by bot/exports.py, like every other ledger.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.clock import clock_from_env, local
from bot.exports import organization
from bot.templates import Templates
from handlers.grids.common import router
from models.grids.households import Household, Visit, year_rows


def _labels(templates: Templates | None) -> dict[str, Any]:
    return (templates or Templates()).commands.get("grid_labels", {})


@router.export("visits")
async def visit_rows(
    org_code: str,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    templates: Templates | None = None,
    full_phone: bool = False,
) -> tuple[list[str], list[list[Any]]]:
    """走访台账: one row per visit in the organisation's grids, oldest first."""
    labels = _labels(templates)
    head = labels["export_visits"]
    org = await organization(org_code)
    q = Visit.filter(grid__path__startswith=org.path)
    if date_from:
        q = q.filter(visited_on__gte=date_from)
    if date_to:
        q = q.filter(visited_on__lte=date_to)
    visits = await q.select_related("grid", "household", "worker", "request").order_by(
        "visited_on", "id"
    )
    rows = []
    for v in visits:
        values = {
            "date": str(v.visited_on),
            "grid": v.grid.name,
            "address": v.household.address,
            "head": v.household.head_name,
            "worker": v.worker.name,
            "mode": labels["mode"].get(v.mode, v.mode),
            "note": v.note,
            "request": v.request.number if v.request else "",
        }
        rows.append([values[k] for k in head])
    return list(head.values()), rows


@router.export("households", periods=False)
async def household_rows(
    org_code: str,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    templates: Templates | None = None,
    full_phone: bool = False,
) -> tuple[list[str], list[list[Any]]]:
    """住户台账: one row per household, with this year's visits and the last one."""
    labels = _labels(templates)
    head = labels["export_households"]
    org = await organization(org_code)
    households = (
        await Household.filter(grid__path__startswith=org.path)
        .select_related("grid", "worker", "member")
        .order_by("grid_id", "address_key", "id")
    )
    # "This year" on the process clock (LIANXIN_NOW in drills).
    years = await year_rows(households, local(clock_from_env().now()).date())
    rows = []
    for h, y in zip(households, years, strict=True):
        values = {
            "grid": h.grid.name,
            "address": h.address,
            "head": h.head_name,
            "phone": h.phone if full_phone else h.masked_phone,
            "tags": "、".join(h.tags),
            "worker": h.worker.name if h.worker else "",
            "member": h.member.name if h.member else "",
            "visits": y.visits,
            "last_visit": str(y.last_visit or ""),
        }
        rows.append([values[k] for k in head])
    return list(head.values()), rows
