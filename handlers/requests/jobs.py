"""定时的活：办理时限提醒、超期督办、未回访。Each returns the pushes that are due; the
broadcaster sends them, once per delivery key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.outbound import Push
from handlers.requests.common import router, service
from models.paging import breathe, in_pages
from models.people import officer_targets_by_org
from models.requests import REMINDER_LEAD_HOURS, RUNNING_STATUSES, ServiceRequest
from models.requests.rules import reminder_kind
from models.workdays import remind_from


@router.every(lambda config: config.requests.reminder_interval_minutes * 60)
async def deadline_reminders(runtime: Any, now: datetime) -> list[Push]:
    """The scheduled run: the lead time comes from [requests] reminder_lead_hours."""
    return await deadline_pushes(
        runtime, now, lead_hours=runtime.config.requests.reminder_lead_hours
    )


async def deadline_pushes(
    runtime: Any, now: datetime, lead_hours: float = REMINDER_LEAD_HOURS
) -> list[Push]:
    """Reminders to the responsible org's bound groups of open requests due soon or overdue.

    Each (request, kind, target) has its own key, so it is delivered once however
    often the scheduler asks (and across restarts).
    """
    # The lead is working time for 工作日 limits (that horizon is never before the wall-clock one).
    soon = {w: remind_from(now, lead_hours, workdays=w) for w in (False, True)}
    rows = await in_pages(  # thousands at district scale: a page at a time
        ServiceRequest.filter(status__in=RUNNING_STATUSES, due_at__lte=soon[True]).select_related(
            "org", "assignee_org"
        )
    )
    pushes: list[Push] = []
    templates = runtime.templates
    labels = service.labels(runtime)
    holders = [r.holder() for r in rows]
    groups = await officer_targets_by_org(
        [h.id for h in holders if h is not None]
        + [r.org.parent_id for r in rows if r.org.parent_id]
    )
    for i, req in enumerate(rows):
        await breathe(i)
        if req.due_at > soon[req.workdays]:
            continue
        kind = reminder_kind(req.due_at, now)
        holder = req.holder()
        text = templates.render("request_notice_due", req=req, kind=kind, labels=labels)
        for target in groups.get(holder.id, []) if holder else []:
            pushes.append(Push(target, text, f"req:{req.number}:{kind}:{target}", "request_due"))
        if kind == "overdue":
            parent = groups.get(req.org.parent_id, []) if req.org.parent_id else []
            pushes += await escalation_pushes(runtime, req, now, parent)
    return pushes


async def escalation_pushes(
    runtime: Any, req: ServiceRequest, now: datetime, targets: list[str] | None = None
) -> list[Push]:
    """超期督办: an overdue request goes once to the parent organisation (recorded in the
    history the first time; the delivery key makes each target hear it once). `targets`:
    the parent's groups when the caller looked them up for many requests at once."""
    if req.escalated_at is None:  # recorded already: no UPDATE per request and tick
        await req.escalate_once(now)
    text = runtime.templates.render(
        "request_notice_followup", req=req, action="escalate", labels=service.labels(runtime)
    )
    return [
        Push(target, text, f"req:{req.number}:escalate:{target}", "request_escalate")
        for target in (targets if targets is not None else await req.parent_targets())
    ]


@router.every(lambda config: config.requests.reminder_interval_minutes * 60)
async def visit_expiry(runtime: Any, now: datetime) -> list[Push]:
    """未回访: visits nobody answered in time are recorded as such (never as 满意)."""
    await ServiceRequest.expire_visits(now)
    return []
