"""每月联系提醒：很久没有联系的党员，每月提醒一次（只发私聊）。"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from bot.clock import local
from bot.outbound import Push
from handlers.checkin.common import labels, router
from models.checkin import DEFAULT_LOST_DAYS, lost_contact_names, mask_phone
from models.checkin.rules import contact_month
from models.people import Identity


@router.every(lambda config: config.checkin.reminder_interval_minutes * 60)
async def contact_reminders(runtime: Any, now: datetime) -> list[Push]:
    return await contact_pushes(runtime, now, days=runtime.config.checkin.lost_days)


async def contact_pushes(runtime: Any, now: datetime, days: int = DEFAULT_LOST_DAYS) -> list[Push]:
    """Reminders to members not seen for `days` to get in touch; once a month per
    person (the key holds across restarts)."""
    month = contact_month(local(now))
    people = await lost_contact_names(["/"], days, now)
    targets = await Identity.targets_of(pid for pid, _ in people)  # not a query per person
    # The text differs only in the name: rendered once, not once per person (thousands).
    mark = "\x00name\x00"
    text = runtime.templates.render(
        "checkin_notice",
        kind="contact",
        person=SimpleNamespace(name=mark),
        labels=labels(runtime),
        mask=mask_phone,
    )
    pushes: list[Push] = []
    for pid, name in people:
        mine = text.replace(mark, name)
        for target in targets.get(pid, []):
            pushes.append(Push(target, mine, f"contact:{pid}:{month}:{target}", "checkin_contact"))
    return pushes
