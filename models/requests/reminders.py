"""办理时限提醒：每个时间点（快到期 / 已超时）对每个群只提醒一次，不多也不漏。

A running request is reminded ``due_soon`` when its due time comes within the lead, and
``overdue`` once it has passed (with 超期督办 to the parent organisation's groups). Each
(request, kind, target) is one delivery key, so a push is never sent twice.

At district scale most running requests were reminded long ago, and a tick used to
rebuild every one of those reminders to let the delivery keys drop them (#15).
``ServiceRequest.reminded`` now says which kind is done: a tick reads only the requests
not yet marked for the kind they are due. The mark is written only once every delivery
key of that reminder exists (the tick after the one that planned them), so a tick whose
deliveries never got written (a crash, the database away) is planned again: never
missed. Every transition (`_move`) clears the mark: a new holder or a new due time is a
new due point, and the delivery keys still keep what was sent from going again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tortoise import connections
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from bot.db import placeholders
from models.deliveries import Delivery
from models.paging import breathe, in_pages
from models.people import officer_targets_by_org
from models.requests.request import ServiceRequest
from models.requests.rules import RUNNING_STATUSES, reminder_key, reminder_kind
from models.workdays import remind_from

KEY_CHUNK = 500  # delivery keys per query
MARK_CHUNK = 500  # rows marked per statement (and transaction)


@dataclass
class Reminder:
    """One request's reminder at this tick: its kind, the holder's groups and (overdue)
    the parent organisation's groups for 超期督办."""

    req: ServiceRequest
    kind: str
    targets: list[str]
    escalate_to: list[str] = field(default_factory=list)

    def keys(self) -> list[str]:
        number = self.req.number
        return [reminder_key(number, self.kind, t) for t in self.targets] + [
            reminder_key(number, "escalate", t) for t in self.escalate_to
        ]


def candidates(now: datetime, lead_hours: float) -> QuerySet[ServiceRequest]:
    """Running requests due a reminder at `now` that is not marked done: overdue ones not
    marked ``overdue``, and those due within the lead not marked at all."""
    # The lead is working time for 工作日 limits (that horizon is never before the wall-clock one).
    soon = {w: remind_from(now, lead_hours, workdays=w) for w in (False, True)}
    overdue = Q(due_at__lte=now, reminded__in=("", "due_soon"))
    due_soon = Q(due_at__gt=now, reminded="") & (
        Q(workdays=False, due_at__lte=soon[False]) | Q(workdays=True, due_at__lte=soon[True])
    )
    return ServiceRequest.filter(Q(status__in=RUNNING_STATUSES), overdue | due_soon)


async def due_reminders(now: datetime, lead_hours: float) -> list[Reminder]:
    """The reminders still to send at `now` (see the module docstring). Overdue requests
    are recorded as escalated (history) the first time they are seen."""
    # A page at a time: thousands on the first tick after an upgrade.
    rows = await in_pages(candidates(now, lead_hours).select_related("org", "assignee_org"))
    groups = await officer_targets_by_org(
        [r.holder().id for r in rows if r.holder() is not None]
        + [r.org.parent_id for r in rows if r.org.parent_id]
    )
    planned: list[Reminder] = []
    escalate: list[int] = []
    for i, req in enumerate(rows):
        await breathe(i)
        kind = reminder_kind(req.due_at, now)
        holder = req.holder()
        reminder = Reminder(req, kind, list(groups.get(holder.id, [])) if holder else [])
        if kind == "overdue":
            if req.escalated_at is None:  # recorded already: not written again each tick
                escalate.append(req.id)
            parent = req.org.parent_id
            reminder.escalate_to = list(groups.get(parent, [])) if parent else []
        planned.append(reminder)
    await ServiceRequest.escalate_many(escalate, now)
    delivered = await existing_keys(k for r in planned for k in r.keys())
    done = [r for r in planned if all(k[:191] in delivered for k in r.keys())]
    await mark_reminded(done)
    return [r for r in planned if not all(k[:191] in delivered for k in r.keys())]


async def existing_keys(keys: Iterable[str]) -> set[str]:
    """Which of these delivery keys were written already."""
    wanted = list(dict.fromkeys(k[:191] for k in keys))
    found: set[str] = set()
    for i in range(0, len(wanted), KEY_CHUNK):
        found |= set(
            await Delivery.filter(dedup_key__in=wanted[i : i + KEY_CHUNK]).values_list(
                "dedup_key", flat=True
            )
        )
    return found


async def mark_reminded(done: list[Reminder]) -> None:
    """Mark each request reminded for its kind, unless it moved since it was read (status,
    due time or the unit it was forwarded to changed: the next tick looks at it again).
    One statement for many rows: thousands on the first tick after an upgrade."""
    conn = connections.get("default")
    p = placeholders(conn, 5)
    sql = (
        f"UPDATE service_request SET reminded = {p[0]} WHERE id = {p[1]} AND status = {p[2]} "
        f"AND due_at = {p[3]} AND COALESCE(assignee_org_id, 0) = {p[4]}"
    )
    due_at = ServiceRequest._meta.fields_map["due_at"]
    values = [
        [r.kind, r.req.id, r.req.status, due_at.to_db_value(r.req.due_at, ServiceRequest),
         r.req.assignee_org_id or 0]
        for r in done
    ]  # fmt: skip
    for i in range(0, len(values), MARK_CHUNK):
        await conn.execute_many(sql, values[i : i + MARK_CHUNK])
