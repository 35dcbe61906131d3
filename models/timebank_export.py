"""时间银行台账：流水与每人余额。

Registered by handlers/timebank.py (``router.export("timebank"…)``); bot/exports.py writes the
file, and `lianxin export timebank` and the workbench find it through the registry.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bot.clock import day_start
from bot.clock import fmt as when
from bot.exports import organization
from bot.templates import Templates
from models.activities import TimeBankEntry
from models.redemption import Redemption


async def timebank_rows(
    org_code: str,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    templates: Templates | None = None,
    full_phone: bool = False,
) -> tuple[list[str], list[list[Any]]]:
    """时间银行台账: every ledger row of the organisation's subtree (credits for its
    activities, redemptions its officers made), oldest first, with each person's running
    balance (over all their rows, so it matches /时间银行)."""
    labels = (templates or Templates()).commands.get("activity_labels", {})
    head = labels["export_timebank"]
    org = await organization(org_code)
    people = set(
        await TimeBankEntry.filter(org__path__startswith=org.path).values_list(
            "person_id", flat=True
        )
    )
    entries = (
        await TimeBankEntry.filter(person_id__in=people)
        .select_related("person", "activity", "officer", "org")
        .order_by("created_at", "id")
    )
    start = day_start(date_from) if date_from else None
    end = day_start(date_to + timedelta(days=1)) if date_to else None
    codes = await redemption_codes([e.ref for e in entries if e.ref], labels["redemption_status"])
    running: dict[int, Decimal] = {}
    rows = []
    for e in entries:
        running[e.person_id] = running.get(e.person_id, Decimal("0")) + Decimal(e.hours)
        in_scope = e.org is not None and e.org.path.startswith(org.path)
        if not in_scope or (start and e.created_at < start) or (end and e.created_at >= end):
            continue
        values = {
            "created_at": when(e.created_at),
            "name": e.person.name,
            "kind": labels["timebank_kind"].get(e.kind, e.kind),
            "hours": float(e.hours),
            "balance": float(running[e.person_id]),
            "activity": e.activity.title if e.activity else "",
            "item": e.item,
            "officer": e.officer.name if e.officer else "",
            "org": e.org.name if e.org else "",
            "reason": e.reason,
            "appeal": e.appeal_id or "",
            "code": codes.get(e.ref or "", ""),
        }
        rows.append([values[k] for k in head])
    return [head[k] for k in head], rows


async def redemption_codes(refs: list[str], status: dict[str, str]) -> dict[str, str]:
    """ref "red:<id>" of a catalogue redemption → its 核销码 and whether it was used
    (`status`: activity_labels.redemption_status; anything not used reads as issued)."""
    ids = [int(r[4:]) for r in refs if r.startswith("red:") and r[4:].isdigit()]
    rows = await Redemption.filter(id__in=ids).values_list("id", "code", "status")
    return {f"red:{i}": code + status.get(st, status["issued"]) for i, code, st in rows}
