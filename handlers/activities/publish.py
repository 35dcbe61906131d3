"""发布活动（一步步问，或一行写完）、修改活动、取消活动。"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.registry import OFFICER, Arg, Handler
from bot.text import fold_width
from handlers.activities.common import (
    activity_for_officer,
    audience_of,
    guess_kind,
    is_skip,
    kind_of,
    notify,
    read_audience,
    read_capacity,
    read_kind,
    router,
    say,
    service,
    settings,
    signup_targets,
    tell_promoted,
    tz,
)
from models.activities import (
    Activity,
    check_title,
    default_audience,
    need_org,
    parse_hours,
)
from models.activities.rules import PLACE_MAX, read_end, read_range, read_start, read_when
from models.errors import DomainError
from models.people import Organization, resident_group_targets


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def read_start_answer(ctx: Ctx, answer: str) -> tuple[datetime, datetime | None]:
    now = ctx.now()
    start, end = read_start(answer, now, tz(ctx))
    Activity.validate(now, starts_at=start, **({"ends_at": end} if end else {}))
    return start, end


def read_end_answer(ctx: Ctx, answer: str) -> datetime:
    now = ctx.now()
    start = _dt(ctx.dialog.data["starts_at"])
    assert start is not None
    end = read_end(start, answer, now, tz(ctx))
    Activity.validate(now, starts_at=start, ends_at=end)
    return end


def read_place(ctx: Ctx, answer: str) -> str:
    if not 1 <= len(answer) <= PLACE_MAX:
        raise DomainError("act_one_line", part=answer[:40])
    return answer


def read_hours(ctx: Ctx, answer: str) -> Decimal:
    return Decimal("0") if is_skip(ctx, answer) else parse_hours(answer)


def read_deadline(ctx: Ctx, answer: str) -> datetime | None:
    if is_skip(ctx, answer):
        return None
    now = ctx.now()
    deadline = read_when(answer, now, tz(ctx))
    Activity.validate(now, starts_at=_dt(ctx.dialog.data["starts_at"]), signup_deadline=deadline)
    return deadline


class Publish(Dialog, key="publish", ask="act_ask"):
    """发布活动：八步（开始和结束一起回答时七步）。"""

    title = Step(parse=lambda ctx, answer: check_title(answer))
    kind = Step(parse=read_kind)
    start = Step(parse=read_start_answer)
    end = Step(parse=read_end_answer)
    place = Step(parse=read_place)
    capacity = Step(parse=read_capacity)
    audience = Step(parse=read_audience)
    hours = Step(parse=read_hours)
    deadline = Step(parse=read_deadline)

    @classmethod
    def variables(cls, ctx: Ctx) -> dict[str, Any]:
        return {"labels": service.labels(ctx), "org_name": ""}


async def ask(ctx: Ctx, step: Step) -> Reply:
    return await ctx.dialog.ask(step, **Publish.variables(ctx))


@router.command(
    "发布活动",
    "publish",
    permission=OFFICER,
    args=[Arg("line", required=False, rest=True)],
    mutates=True,
)
async def publish(ctx: Ctx) -> Reply:
    """发布活动：一步步问，或者一行写完（用 | 分隔）。"""
    org = need_org(await ctx.acting_org())
    if ctx.rest.strip():
        return await publish_line(ctx, org, ctx.rest)
    await ctx.dialog.start(Publish.title, org_id=org.id)
    return ctx.dialog.question(Publish.title, **{**Publish.variables(ctx), "org_name": org.name})


async def publish_line(ctx: Ctx, org: Organization, line: str) -> Reply:
    parts = [p.strip() for p in re.split(r"[|｜]", line)]
    if len(parts) < 3 or not all(parts[:3]):
        raise DomainError("act_one_line", part=line.strip()[:40])
    now = ctx.now()
    title, (start, end), place = parts[0], read_range(parts[1], now, tz(ctx)), parts[2]
    words = service.labels(ctx)["one_line"]
    capacity, hours = 0, Decimal("0")
    kind: str | None = None
    audience: str | None = None
    deadline: datetime | None = None
    for part in parts[3:]:
        p = fold_width(part).strip()
        if not p:
            continue
        m = re.fullmatch(words["hours"], p)
        if re.fullmatch(words["capacity"], p):
            capacity = read_capacity(ctx, p)
        elif m:
            hours = parse_hours(m.group(1))
        elif p.startswith(words["deadline"]):
            deadline = read_when(p.removeprefix(words["deadline"]).strip(" ：:"), now, tz(ctx))
        elif kind_of(ctx, p) and not p.isdigit():
            kind = kind_of(ctx, p)
        elif audience_of(ctx, p) and not p.isdigit():
            audience = audience_of(ctx, p)
        else:
            raise DomainError("act_one_line", part=part[:40])
    kind = kind or guess_kind(ctx, title, hours)
    bound_group = ctx.inbound.is_group and ctx.org is not None
    audience = audience or default_audience(kind, bound_group)
    return await publish_activity(
        ctx,
        org,
        title=title,
        kind=kind,
        starts_at=start,
        ends_at=end,
        place=place,
        capacity=capacity,
        audience=audience,
        volunteer_hours=hours,
        signup_deadline=deadline,
    )


async def publish_activity(ctx: Ctx, org: Organization, **values: Any) -> Reply:
    here = ctx.inbound.reply_target
    act = await Activity.publish(
        org, await ctx.person(), reply_target=here, now=ctx.now(), **values
    )
    act.org = org
    targets = [t for t in await resident_group_targets(org) if t != here]
    notify(ctx, targets, "act_notice", f"act:{act.id}:published", kind="published", act=act)
    return say(ctx, "act_published", act=act)


def keep(key: str, then: Step, show: Callable[[Any], Any] = lambda value: value) -> Handler:
    """A step that stores its (parsed) answer under `key` and asks `then`."""

    async def step(ctx: Ctx) -> Reply:
        ctx.dialog.data[key] = show(ctx.answer)
        return await ask(ctx, then)

    step.__name__ = f"publish_{key}"
    return step


# The plain steps, each followed by the next; start and deadline below decide more.
for _step, _key, _then in (
    (Publish.title, "title", Publish.kind),
    (Publish.kind, "kind", Publish.start),
    (Publish.place, "place", Publish.capacity),
    (Publish.capacity, "capacity", Publish.audience),
    (Publish.audience, "audience", Publish.hours),
):
    router.step(_step)(keep(_key, _then))
router.step(Publish.end)(keep("ends_at", Publish.place, datetime.isoformat))
router.step(Publish.hours)(keep("volunteer_hours", Publish.deadline, str))


@router.step(Publish.start)
async def publish_start(ctx: Ctx) -> Reply:
    start, end = ctx.answer
    ctx.dialog.data["starts_at"] = start.isoformat()
    ctx.dialog.data["ends_at"] = end.isoformat() if end else None
    # A range answered both the start and the end: the end is not asked.
    return await ask(ctx, Publish.place if end else Publish.end)


@router.step(Publish.deadline)
async def publish_deadline(ctx: Ctx) -> Reply:
    d = ctx.dialog.data
    d["signup_deadline"] = ctx.answer.isoformat() if ctx.answer else None
    await ctx.dialog.finish()
    org = await Organization.get(id=d["org_id"])
    return await publish_activity(
        ctx,
        org,
        title=d["title"],
        kind=d["kind"],
        starts_at=_dt(d["starts_at"]),
        ends_at=_dt(d["ends_at"]),
        place=d["place"],
        capacity=d["capacity"],
        audience=d["audience"],
        volunteer_hours=Decimal(d["volunteer_hours"]),
        signup_deadline=_dt(d.get("signup_deadline")),
    )


# -- 修改、取消活动 ----------------------------------------------------------------------
def read_change(ctx: Ctx, act: Activity, field: str, value: str) -> dict[str, Any]:
    """/修改活动's new value of `field` (a key of activity_labels.fields) as changes."""
    now = ctx.now()
    if field == "time":
        start, end = read_range(value, now, tz(ctx))
        return {"starts_at": start, "ends_at": end}
    if field == "signup_deadline":
        return {field: act.starts_at if is_skip(ctx, value) else read_when(value, now, tz(ctx))}
    if field == "capacity":
        return {field: read_capacity(ctx, value)}
    if field == "kind":
        return {field: read_kind(ctx, value)}
    if field == "audience":
        return {field: read_audience(ctx, value)}
    return {field: value}


@router.command(
    "修改活动",
    "editactivity",
    permission=OFFICER,
    args=[Arg("number"), Arg("field"), Arg("value", rest=True)],
    mutates=True,
)
async def edit_activity(ctx: Ctx) -> Reply:
    """修改一项：标题、类别、时间、地点、名额、对象、时长、截止。"""
    act = await activity_for_officer(ctx, ctx.args[0])
    field = service.labels(ctx)["fields"].get(ctx.args[1])
    if field is None:
        raise DomainError("act_edit_field", field=ctx.args[1], number=act.id)
    changes = read_change(ctx, act, field, ctx.args[2])
    hours = settings(ctx).confirm_window_hours
    promoted = await act.revise(await ctx.person(), now=ctx.now(), confirm_hours=hours, **changes)
    await tell_promoted(ctx, act, promoted)
    if field in ("time", "place"):
        notify(
            ctx,
            await signup_targets(await act.active_signups(excluding=promoted)),
            "act_notice",
            ctx.change_key(f"act:{act.id}:changed"),
            kind="changed",
            act=act,
            field=field,
        )
    return say(ctx, "act_done", action="edited", act=act, field=field, promoted=len(promoted))


@router.command(
    "取消活动",
    "cancelactivity",
    permission=OFFICER,
    args=[Arg("number"), Arg("reason", rest=True)],
    mutates=True,
)
async def cancel_activity(ctx: Ctx) -> Reply:
    """取消活动并说明原因；已报名和候补的人都会收到通知。"""
    act = await activity_for_officer(ctx, ctx.args[0])
    told = await act.cancel(ctx.args[1], await ctx.person(), now=ctx.now())
    notify(
        ctx,
        await signup_targets(told),
        "act_notice",
        f"act:{act.id}:cancelled",
        kind="cancelled",
        act=act,
    )
    return say(ctx, "act_done", action="cancelled", act=act, told=len(told))
