"""失联党员排查：/失联 看阶梯、/确认失联 确认或记下联系；每月的阶梯任务（只发私聊）。

Nothing about lost contact is ever said in a group: both commands are private-only,
and the tasks go to people's private chats, never to a bound group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import local
from bot.context import Ctx
from bot.inbound import Reply
from bot.outbound import Push
from bot.registry import OFFICER, Arg
from handlers.grids.common import labels, now_of, render, router, say
from models.checkin import find_people
from models.errors import DomainError
from models.grids.ladder import (
    Rung,
    advance,
    confirm_lost,
    contacts_for,
    history,
    record_contact,
    rungs,
    stage_of,
    tasks_due,
)
from models.paging import breathe
from models.people import Identity, Person


async def one_member(ctx: Ctx, query: str) -> Person:
    """The member meant, among those in the officer's scope (name part or phone tail)."""
    found = await find_people(ctx.scope_paths(), query)
    exact = [p for p in found if p.called(query.strip())]
    if len(exact) == 1 or len(found) == 1:
        return (exact or found)[0]
    if not found:
        raise DomainError("ladder_no_member", query=query)
    raise DomainError("ladder_many_members", query=query, names=[p.name for p in found[:5]])


@router.command(
    "失联",
    "lost",
    permission=OFFICER,
    args=[Arg("member", required=False, rest=True)],
    answer_privately=True,  # names and histories: in a group, sent to the officer in private
)
async def lost(ctx: Ctx) -> Reply:
    """失联党员排查：疑似失联、待确认、已失联的党员；写上姓名看一个人的阶梯和经过。"""
    cfg = ctx.runtime.config.grids
    now = now_of(ctx)
    if ctx.args:
        person = await one_member(ctx, ctx.args[0])
        row = await stage_of(person)
        return say(
            ctx, "grid_ladder", what="one", person=person, row=row,
            unreached=row.unreached(local(now).date()) if row else 0,
            events=await history(person), confirm_months=cfg.confirm_months,
        )  # fmt: skip
    rows, total = await rungs(now, ctx.scope_paths(), confirm_months=cfg.confirm_months)
    return say(ctx, "grid_ladder", what="list", rows=rows, total=total, cfg=cfg)


@router.command(
    "确认失联",
    "confirmlost",
    permission=OFFICER,
    args=[Arg("member"), Arg("note", required=False, rest=True)],
    mutates=True,
    private_only=True,
)
async def confirm(ctx: Ctx) -> Reply:
    """支部书记：满 6 个月没联系上的，确认失联；联系上了就写“已联系 情况”，回到正常。"""
    person = await one_member(ctx, ctx.args[0])
    note = ctx.args[1] if len(ctx.args) > 1 else ""
    officer = await ctx.person()
    now = now_of(ctx)
    words = labels(ctx)["contact_words"]
    said = next((w for w in words if note.startswith(w)), None)
    if said is not None:
        await record_contact(
            [person.id], now, "officer", actor_id=officer.id, note=note[len(said) :].strip()
        )
        return say(ctx, "grid_ladder", what="contacted", person=person)
    row = await confirm_lost(person, officer, now, ctx.runtime.config.grids.confirm_months, note)
    return say(ctx, "grid_ladder", what="confirmed", person=person, row=row)


@router.every(lambda config: config.grids.reminder_interval_minutes * 60)
async def lost_contact_ladder(runtime: Any, now: datetime) -> list[Push]:
    """The month's step of the ladder, then the month's tasks, one message per person to
    tell: 请联系 to the grid member (else the branch officers) of each member who became
    疑似失联, 请确认 to the branch officers of each member who reached six months. Members
    moved by the same run share a key, so a list goes once, however often the job runs."""
    cfg = runtime.config.grids
    await advance(now, cfg.suspect_months)
    tasks = await tasks_due(now, cfg.confirm_months)
    if not tasks:
        return []
    who = await contacts_for([t.rung for t in tasks])
    month = local(now).strftime("%Y%m")
    groups: dict[tuple[str, str, int], list[Rung]] = {}
    for t in tasks:
        c, since = who[t.rung.person_id], str(int(t.rung.since.timestamp()))
        if t.contact:
            for person_id in c.task:
                groups.setdefault(("contact", since, person_id), []).append(t.rung)
        if t.confirm:
            stamp = since if t.contact else month
            for person_id in c.branch:
                groups.setdefault(("confirm", stamp, person_id), []).append(t.rung)
    targets = await Identity.targets_of({k[2] for k in groups})
    pushes = []
    for i, ((task, stamp, person_id), rungs_) in enumerate(groups.items()):
        await breathe(i, 50)  # a district's ~2,000 texts: let members' messages in between
        months = cfg.suspect_months if task == "contact" else cfg.confirm_months
        text = render(runtime, "grid_ladder_task", task=task, rows=rungs_, months=months)
        for target in targets.get(person_id, []):
            pushes.append(Push(target, text, f"ladder:{task}:{stamp}:{target}", "grid_ladder"))
    return pushes


# Any message is contact (bot/seen.py): the ladder hears of it through the registry.
router.provide("record_contact")(record_contact)
