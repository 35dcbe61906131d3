"""定时的活：办理时限提醒、超期督办、未回访。Each returns the pushes that are due; the
broadcaster sends them, once per delivery key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.outbound import Push
from handlers.requests.common import router, service
from models.paging import breathe
from models.requests import REMINDER_LEAD_HOURS, ServiceRequest
from models.requests.reminders import due_reminders
from models.requests.rules import reminder_key


@router.every(lambda config: config.requests.reminder_interval_minutes * 60)
async def deadline_reminders(runtime: Any, now: datetime) -> list[Push]:
    """The scheduled run: the lead time comes from [requests] reminder_lead_hours."""
    return await deadline_pushes(
        runtime, now, lead_hours=runtime.config.requests.reminder_lead_hours
    )


async def deadline_pushes(
    runtime: Any, now: datetime, lead_hours: float = REMINDER_LEAD_HOURS
) -> list[Push]:
    """Reminders to the holder's groups of running requests due soon or overdue, and
    超期督办 to the parent organisation's groups: each (request, kind, target) once
    (models/requests/reminders.py)."""
    labels = service.labels(runtime)
    render = runtime.templates.render
    pushes: list[Push] = []
    for i, r in enumerate(await due_reminders(now, lead_hours)):
        await breathe(i)
        number = r.req.number
        if r.targets:
            text = render("request_notice_due", req=r.req, kind=r.kind, labels=labels)
            pushes += [
                Push(t, text, reminder_key(number, r.kind, t), "request_due") for t in r.targets
            ]
        if r.escalate_to:
            text = render("request_notice_followup", req=r.req, action="escalate", labels=labels)
            pushes += [
                Push(t, text, reminder_key(number, "escalate", t), "request_escalate")
                for t in r.escalate_to
            ]
    return pushes


@router.every(lambda config: config.requests.reminder_interval_minutes * 60)
async def visit_expiry(runtime: Any, now: datetime) -> list[Push]:
    """未回访: visits nobody answered in time are recorded as such (never as 满意)."""
    await ServiceRequest.expire_visits(now)
    return []
