"""组织生活台账：活动、报名、签到。

Registered by handlers/activities/common.py (``router.export("activities"…)``);
bot/exports.py writes the file, and `lianxin export activities` and the workbench find it
through the registry.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.clock import days_range
from bot.clock import fmt as when
from bot.exports import organization
from bot.templates import Templates
from models.activities import Activity


async def activity_rows(
    org_code: str,
    date_from: date,
    date_to: date,
    *,
    templates: Templates | None = None,
    full_phone: bool = False,
) -> tuple[list[str], list[list[Any]]]:
    """One row per activity of the organisation's subtree starting in the dates, oldest
    first, with its sign-ups and attendance."""
    labels = (templates or Templates()).commands.get("activity_labels", {})
    head = labels["export"]
    org = await organization(org_code)
    start, end = days_range(date_from, date_to)
    acts = (
        await Activity.filter(
            org__path__startswith=org.path, starts_at__gte=start, starts_at__lt=end
        )
        .select_related("org", "created_by")
        .order_by("starts_at", "id")
    )
    rows = []
    for a in acts:
        f = await a.figures()
        roster = await a.roster()
        values = {
            "number": a.id,
            "org": a.org.name,
            "title": a.title,
            "kind": labels["kind"].get(a.kind, a.kind),
            "starts_at": when(a.starts_at),
            "ends_at": when(a.ends_at),
            "place": a.place,
            "capacity": a.capacity,
            "audience": labels["audience"].get(a.audience, a.audience),
            "volunteer_hours": float(a.volunteer_hours),
            "status": labels["status"].get(a.status, a.status),
            "publisher": a.created_by.name if a.created_by else "",
            "confirmed": f["confirmed"],
            "waitlisted": f["waitlisted"],
            "attended": f["attended"],
            "attended_members": f["attended_members"],
            "attended_residents": f["attended_residents"],
            "offered": f["offered"],
            "late_cancels": f["late_cancels"],
            "walk_ins": f["walk_ins"],
            "signed_up": "、".join(s.person.name for s in roster if s.status == "confirmed"),
            "attendees": "、".join(s.person.name for s in roster if s.attended_at is not None),
            "cancel_reason": a.cancel_reason,
        }
        rows.append([values[k] for k in head])
    return [head[k] for k in head], rows
