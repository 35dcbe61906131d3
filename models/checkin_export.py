"""党员台账：报到、离开、最后联系（手机号默认遮挡）。

Registered by handlers/checkin/common.py (``router.export("members"…)``); bot/exports.py writes the
file, and `lianxin export members` and the workbench find it through the registry.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.clock import fmt as when
from bot.exports import organization
from bot.templates import Templates
from models.checkin import MEMBER_RELATIONS, CheckIn, mask_phone
from models.people import Person, scope_q


async def member_rows(
    org_code: str,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    templates: Templates | None = None,
    full_phone: bool = False,
) -> tuple[list[str], list[list[Any]]]:
    """党员台账: one row per check-in to the organisation (and its subtree), then one
    row per confirmed member whose branch is there and who has no such check-in."""
    labels = (templates or Templates()).commands.get("checkin_labels", {})
    head = labels["export"]
    org = await organization(org_code)

    def person_values(p: Person) -> dict[str, Any]:
        return {
            "name": p.name if p.real_name else "",
            "phone": (p.phone or "") if full_phone else mask_phone(p.phone),
            "home_branch": p.home_org.name if p.home_org else p.home_branch,
            "last_contact": when(p.last_seen_at),
        }

    checkins = (
        await CheckIn.filter(scope_q([org.path]))
        .select_related("person", "person__home_org", "org")
        .order_by("checked_in_at", "id")
    )
    rows = []
    seen: set[int] = set()
    for c in checkins:
        seen.add(c.person_id)
        values = person_values(c.person) | {
            "local_org": c.org.name,
            "kind": labels["kind"].get(c.kind, c.kind),
            "checked_in_at": when(c.checked_in_at),
            "left_at": when(c.left_at),
            "destination": c.destination,
        }
        rows.append([values[k] for k in head])
    members = (
        await Person.filter(
            scope_q([org.path], "home_org_id"), relation_status__in=MEMBER_RELATIONS
        )
        .select_related("home_org", "local_org")
        .order_by("id")
    )
    for p in members:
        if p.id in seen:
            continue
        values = person_values(p) | {
            "local_org": p.local_org.name if p.local_org else "",
            "kind": "",
            "checked_in_at": "",
            "left_at": "",
            "destination": "",
        }
        rows.append([values[k] for k in head])
    return [head[k] for k in head], rows
