"""提醒与签到汇总（调度器）：到点提醒报了名的人，结束后把到场汇总告诉发布的人；
广播变量 {{ 本周活动 }}。"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.outbound import Push
from handlers.activities.common import router, service, settings
from models.activities import ended_recently, reminders_due, week_activities
from models.people import Identity, Organization, officer_targets, person_targets


@router.every(lambda config: config.activities.reminder_interval_minutes * 60)
async def reminders(runtime: Any, now: datetime) -> list[Push]:
    """People signed up (confirmed) are reminded once, within the lead before the start."""
    return await reminder_pushes(runtime, now, settings(runtime).reminder_lead_hours)


async def reminder_pushes(runtime: Any, now: datetime, lead_hours: float = 2.0) -> list[Push]:
    rows = await reminders_due(now, lead_hours)
    labels = service.labels(runtime)
    pushes: list[Push] = []
    texts: dict[int, str] = {}
    reach = await Identity.targets_of(s.person_id for s in rows)
    for s in rows:
        act = s.activity
        if act.id not in texts:
            texts[act.id] = runtime.templates.render(
                "act_notice", kind="reminder", act=act, labels=labels
            )
        for target in reach.get(s.person_id, []):
            key = f"act:{act.id}:remind:{s.person_id}:{target}"
            pushes.append(Push(target, texts[act.id], key, "activity_reminder"))
    return pushes


@router.every(lambda config: config.activities.reminder_interval_minutes * 60)
async def summaries(runtime: Any, now: datetime) -> list[Push]:
    """The publishing officer gets the attendance summary once the activity has ended
    (looking back one day, so a restart after a long stop does not replay old ones)."""
    return await summary_pushes(runtime, now)


async def summary_pushes(runtime: Any, now: datetime) -> list[Push]:
    labels = service.labels(runtime)
    pushes: list[Push] = []
    for act in await ended_recently(now):
        targets = (
            await person_targets(act.created_by_id)
            if act.created_by_id is not None
            else await officer_targets(act.org)
        )
        if not targets:
            continue
        f = await act.figures()
        text = runtime.templates.render("act_notice", kind="summary", act=act, f=f, labels=labels)
        for target in targets:
            pushes.append(Push(target, text, f"act:{act.id}:summary:{target}", "activity_summary"))
    return pushes


@router.variables
async def week_variables(runtime: Any, org: Organization | None, now: datetime) -> dict[str, str]:
    """{{ 本周活动 }} / {{ activities }} in broadcasts: this week's activities visible in
    the organisation, one a line (act_week.j2)."""
    acts = await week_activities(org.path if org else "/", now)
    weekdays = runtime.templates.vocabulary("calendar")["weekdays"]
    text = runtime.templates.render("act_week", acts=acts, weekdays=weekdays)
    return {"activities": text, "本周活动": text}
