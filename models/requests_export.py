"""诉求台账：某组织（含下级）在一段日期内提交的诉求，每张一行，附全过程。

Registered by handlers/requests.py (``router.export("requests"…)``); bot/exports.py writes the
file, and `lianxin export requests` and the workbench find it through the registry.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.clock import clock_from_env, days_range
from bot.clock import fmt as when
from bot.exports import organization
from bot.templates import Templates
from models.requests import ServiceRequest


async def request_rows(
    org_code: str,
    date_from: date,
    date_to: date,
    *,
    templates: Templates | None = None,
    full_phone: bool = False,
    now: datetime | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """诉求台账: the requests filed in the dates, oldest first, with their whole history;
    是否超时 as of `now` (the process clock)."""
    now = now or clock_from_env().now()
    labels = (templates or Templates()).commands.get("request_labels", {})
    head = labels["export"]
    org = await organization(org_code)
    start, end = days_range(date_from, date_to)
    reqs = (
        await ServiceRequest.filter(
            org__path__startswith=org.path, created_at__gte=start, created_at__lt=end
        )
        .select_related("org", "assignee_org", "handler", "requester")
        .order_by("created_at", "id")
    )
    columns = [k for k in head if k not in ("yes", "no")]
    rows = []
    for r in reqs:
        events = await r.history()
        history = "\n".join(
            " ".join(
                part
                for part in (
                    when(e.created_at),
                    labels["action"].get(e.action, e.action),
                    e.actor.name if e.actor else "",
                    labels["visit"].get(e.note, e.note) if e.action == "visit" else e.note,
                )
                if part
            )
            for e in events
        )
        values = {
            "number": r.number,
            "org": r.org.name,
            "category": labels["category"].get(r.category, r.category),
            "content": r.content,
            "place": r.place,
            "contact": r.contact,
            "requester": r.requester.name,
            "status": labels["status"].get(r.status, r.status),
            "created_at": when(r.created_at),
            "due_at": when(r.due_at),
            "handler": r.handler.name if r.handler else "",
            "accepted_at": when(r.accepted_at),
            "assignee_org": r.assignee_org.name if r.assignee_org else "",
            "closed_at": when(r.closed_at),
            "result": r.result or "",
            "overdue": head["yes"] if r.is_overdue(now) else head["no"],
            "score": r.score if r.score is not None else "",
            "rating_comment": r.rating_comment or "",
            "urge_count": r.urge_count,
            "visit": labels["visit"].get(r.visit, ""),
            "supervised": sum(1 for e in events if e.action in ("supervise", "escalate")),
            "paused": sum(1 for e in events if e.action == "ask"),
            "attachments": "\n".join(a.url or a.media_id for a in await r.attachments()),
            "history": history,
        }
        rows.append([values[k] for k in columns])
    return [head[k] for k in columns], rows
