"""组织生活菜单：发布活动、菜单、报名 / 候补、现场签到、时间银行、积分排行、三会一课。

The rules live on `models.activities`; this module parses what people type (times
through bot/timeparse.py), checks who is asking, calls the models and says what
happened (templates/zh_CN/act_*.j2). Notices to other people go out after the commit
(ctx.push_after_commit); reminders and attendance summaries are periodic jobs that
return pushes (bot.outbound.Push), sent once per key.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q

from bot.community import home_org
from bot.context import Ctx
from bot.inbound import Reply
from bot.outbound import Push
from bot.registry import OFFICER, Arg, Router
from bot.text import fold_width
from bot.timeparse import TimeParseError, parse_range, parse_when
from handlers.checkin import officer_paths, page_arg, user_targets
from handlers.requests import fmt, reply_target
from models.activities import (
    ACTIVE,
    KINDS,
    Activity,
    Signup,
    TimeBankEntry,
    ancestor_paths,
    balance,
    compliance,
    default_audience,
    leaderboard,
    parse_hours,
    people_of,
    points_of,
    week_range,
)
from models.activities_config import ActivitiesConfig
from models.activities_export import activity_rows
from models.errors import DomainError
from models.people import (
    Identity,
    Organization,
    Person,
    RoleGrant,
    officer_targets,
    resident_group_targets,
)
from models.requests import local, month_range, utcnow

router = Router("activities")
router.section("activities", ActivitiesConfig)  # [activities] in the config (bot/config.py)
router.refusals = "refused/activities"  # its refusal texts (bot/refusals.py)
router.export("activities", dated=True, workbench=True)(
    activity_rows
)  # its ledger (bot/exports.py)
STEPS = ("title", "kind", "start", "end", "place", "capacity", "audience", "hours", "deadline")


# -- helpers ------------------------------------------------------------------
def labels(ctx_or_runtime: Any) -> dict[str, Any]:
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return runtime.templates.commands.get("activity_labels", {})


def span_of(lab: dict[str, Any]):
    """ "2026-11-30（周一）14:00–16:00" on the Asia/Shanghai clock."""
    days = lab.get("weekdays", [])

    def span(start: datetime, end: datetime | None = None) -> str:
        a = local(start)
        text = f"{a:%Y-%m-%d}（周{days[a.weekday()]}）{a:%H:%M}"
        if end is not None:
            b = local(end)
            text += f"–{b:%H:%M}" if b.date() == a.date() else f" 至 {b:%Y-%m-%d %H:%M}"
        return text

    return span


def render_vars(runtime: Any) -> dict[str, Any]:
    lab = labels(runtime)
    return {"labels": lab, "fmt": fmt, "span": span_of(lab)}


def say(ctx: Ctx, template: str, **variables: Any) -> Reply:
    return ctx.render(template, now=utcnow(), **render_vars(ctx.runtime), **variables)


def notify(ctx: Ctx, targets: list[str], template: str, key: str, **variables: Any) -> None:
    """Push a notice to each target once the command commits (Ctx.push_after_commit)."""
    ctx.push_after_commit(
        targets,
        lambda: ctx.runtime.templates.render(template, **render_vars(ctx.runtime), **variables),
        purpose="activity",
        key=key,
    )


def refusal(ctx: Ctx, err: DomainError) -> str:
    return ctx.refusal(err)


def tz(ctx: Ctx) -> str:
    return ctx.runtime.config.bot.timezone


def settings(ctx_or_runtime: Any) -> Any:
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return runtime.config.activities


def time_error(err: TimeParseError) -> DomainError:
    return DomainError("time_unparsed", reason=err.reason, text=err.text.strip()[:40])


def when(ctx: Ctx, text: str, now: datetime) -> datetime:
    try:
        return parse_when(text, now, tz(ctx))
    except TimeParseError as err:
        raise time_error(err) from None


def range_of(ctx: Ctx, text: str, now: datetime) -> tuple[datetime, datetime]:
    try:
        return parse_range(text, now, tz(ctx))
    except TimeParseError as err:
        raise time_error(err) from None


def end_after(ctx: Ctx, start: datetime, text: str, now: datetime) -> datetime:
    """The end as typed after the start: "16:00" (the start's day) or a full time."""
    try:
        return parse_range(f"{local(start):%Y-%m-%d %H:%M}-{text}", now, tz(ctx))[1]
    except TimeParseError:
        return when(ctx, text, now)


def kind_of(ctx: Ctx, answer: str) -> str | None:
    a = fold_width(answer).strip()
    names = labels(ctx)["kind"]
    if a.isdigit() and 1 <= int(a) <= len(KINDS):
        return KINDS[int(a) - 1]
    by_label = {v: k for k, v in names.items()}
    return by_label.get(a) or (a if a in KINDS else None)


def guess_kind(ctx: Ctx, title: str, hours: Decimal) -> str:
    names = labels(ctx)["kind"]
    for key, label in sorted(names.items(), key=lambda kv: -len(kv[1])):
        if key != "other" and label in title:
            return key
    return "volunteer" if hours > 0 else "other"


def audience_of(ctx: Ctx, answer: str) -> str | None:
    return labels(ctx).get("audience_words", {}).get(fold_width(answer).strip())


def capacity_of(ctx: Ctx, answer: str) -> int:
    a = fold_width(answer).strip().removesuffix("人").removesuffix("名").strip()
    if a in labels(ctx).get("unlimited", []):
        return 0
    if not a.isdigit():
        raise DomainError("act_bad_capacity", capacity=answer.strip()[:20], limit=10000)
    return int(a)


def is_skip(ctx: Ctx, answer: str) -> bool:
    return fold_width(answer).strip() in labels(ctx).get("skip", [])


async def publishing_org(ctx: Ctx) -> Organization:
    """The bound group's organisation, else the first the officer holds."""
    if ctx.org is not None:
        return await Organization.get(id=ctx.org.id)
    orgs = ctx.caller.officer_orgs()
    if not orgs:
        raise DomainError("act_need_org")
    return await Organization.get(id=orgs[0].id)


async def activity_for_officer(ctx: Ctx, number: str) -> Activity:
    act = await Activity.by_number(number)
    act.check_officer(ctx.caller)
    return act


async def signup_targets(signups: list[Signup]) -> list[str]:
    targets: list[str] = []
    for s in signups:
        targets += await user_targets(s.person_id)
    return list(dict.fromkeys(targets))


async def tell_promoted(ctx: Ctx, act: Activity, promoted: list[Signup]) -> None:
    """Each person promoted from the waitlist is asked to /确认参加 by their deadline."""
    for s in promoted:
        targets = await user_targets(s.person_id)
        key = f"act:{act.id}:promoted:{s.id}"
        notify(ctx, targets, "act_notice", key, kind="promoted", act=act, signup=s)


# -- 发布活动 -------------------------------------------------------------------------
@router.command(
    "发布活动",
    "publish",
    permission=OFFICER,
    args=[Arg("line", required=False, rest=True)],
    mutates=True,
)
async def publish(ctx: Ctx) -> Reply:
    """发布活动：一步步问，或者一行写完（用 | 分隔）。"""
    org = await publishing_org(ctx)
    if ctx.rest.strip():
        return await _publish_line(ctx, org, ctx.rest)
    await ctx.dialog.start("publish", "title", org_id=org.id)
    return say(ctx, "act_ask", step="title", org_name=org.name)


async def _publish_line(ctx: Ctx, org: Organization, line: str) -> Reply:
    parts = [p.strip() for p in re.split(r"[|｜]", line)]
    if len(parts) < 3 or not all(parts[:3]):
        raise DomainError("act_one_line", part=line.strip()[:40])
    now = utcnow()
    title, (start, end), place = parts[0], range_of(ctx, parts[1], now), parts[2]
    capacity, hours = 0, Decimal("0")
    kind: str | None = None
    audience: str | None = None
    deadline: datetime | None = None
    for part in parts[3:]:
        p = fold_width(part).strip()
        if not p:
            continue
        m = re.fullmatch(r"志愿\s*(\S+?)\s*(小时|h)?", p)
        if re.fullmatch(r"\d+\s*[人名]|不限人数|不限", p):
            capacity = capacity_of(ctx, p)
        elif m:
            hours = parse_hours(m.group(1))
        elif p.startswith("截止"):
            deadline = when(ctx, p.removeprefix("截止").strip(" ：:"), now)
        elif kind_of(ctx, p) and not p.isdigit():
            kind = kind_of(ctx, p)
        elif audience_of(ctx, p) and not p.isdigit():
            audience = audience_of(ctx, p)
        else:
            raise DomainError("act_one_line", part=part[:40])
    kind = kind or guess_kind(ctx, title, hours)
    bound_group = ctx.inbound.is_group and ctx.org is not None
    audience = audience or default_audience(kind, bound_group)
    return await _publish(
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
        now=now,
    )


async def _publish(ctx: Ctx, org: Organization, **values: Any) -> Reply:
    act = await Activity.publish(
        org, await ctx.person(), reply_target=reply_target(ctx.inbound), **values
    )
    act.org = org
    targets = [t for t in await resident_group_targets(org) if t != reply_target(ctx.inbound)]
    notify(ctx, targets, "act_notice", f"act:{act.id}:published", kind="published", act=act)
    return say(ctx, "act_published", act=act)


async def _step(ctx: Ctx, step: str, read: Any) -> Reply:
    """One dialog step: `read(answer)` stores the answer or raises; then the next question."""
    try:
        await read(ctx.rest.strip())
    except DomainError as err:
        return say(ctx, "act_ask", step=step, error=refusal(ctx, err), org_name="")
    nxt = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else None
    if step == "start" and ctx.dialog.data.get("ends_at"):
        nxt = "place"  # a range answered both
    if nxt is None:
        return await _finish_publish(ctx)
    await ctx.dialog.goto("publish", nxt)
    return say(ctx, "act_ask", step=nxt, data=ctx.dialog.data, org_name="")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@router.step("publish", "title")
async def publish_title(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        if not 1 <= len(answer) <= 60:
            raise DomainError("act_bad_title", limit=60)
        ctx.dialog.data["title"] = answer

    return await _step(ctx, "title", read)


@router.step("publish", "kind")
async def publish_kind(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        kind = kind_of(ctx, answer)
        if kind is None:
            raise DomainError("act_bad_kind", kind=answer[:20])
        ctx.dialog.data["kind"] = kind

    return await _step(ctx, "kind", read)


@router.step("publish", "start")
async def publish_start(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        now = utcnow()
        try:
            start, end = parse_range(answer, now, tz(ctx))
        except TimeParseError:
            start, end = when(ctx, answer, now), None
        Activity._checked(now, starts_at=start, **({"ends_at": end} if end else {}))
        ctx.dialog.data["starts_at"] = start.isoformat()
        ctx.dialog.data["ends_at"] = end.isoformat() if end else None

    return await _step(ctx, "start", read)


@router.step("publish", "end")
async def publish_end(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        now = utcnow()
        start = _dt(ctx.dialog.data["starts_at"])
        assert start is not None
        end = end_after(ctx, start, answer, now)
        Activity._checked(now, starts_at=start, ends_at=end)
        ctx.dialog.data["ends_at"] = end.isoformat()

    return await _step(ctx, "end", read)


@router.step("publish", "place")
async def publish_place(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        if not 1 <= len(answer) <= 200:
            raise DomainError("act_one_line", part=answer[:40])
        ctx.dialog.data["place"] = answer

    return await _step(ctx, "place", read)


@router.step("publish", "capacity")
async def publish_capacity(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        ctx.dialog.data["capacity"] = Activity._checked(
            utcnow(), capacity=capacity_of(ctx, answer)
        )["capacity"]

    return await _step(ctx, "capacity", read)


@router.step("publish", "audience")
async def publish_audience(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        audience = audience_of(ctx, answer)
        if audience is None:
            raise DomainError("act_bad_audience", audience=answer[:20])
        ctx.dialog.data["audience"] = audience

    return await _step(ctx, "audience", read)


@router.step("publish", "hours")
async def publish_hours(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        hours = Decimal("0") if is_skip(ctx, answer) else parse_hours(answer)
        ctx.dialog.data["volunteer_hours"] = str(hours)

    return await _step(ctx, "hours", read)


@router.step("publish", "deadline")
async def publish_deadline(ctx: Ctx) -> Reply:
    async def read(answer: str) -> None:
        if is_skip(ctx, answer):
            ctx.dialog.data["signup_deadline"] = None
            return
        now = utcnow()
        deadline = when(ctx, answer, now)
        Activity._checked(
            now, starts_at=_dt(ctx.dialog.data["starts_at"]), signup_deadline=deadline
        )
        ctx.dialog.data["signup_deadline"] = deadline.isoformat()

    return await _step(ctx, "deadline", read)


async def _finish_publish(ctx: Ctx) -> Reply:
    d = ctx.dialog.data
    await ctx.dialog.finish()
    org = await Organization.get(id=d["org_id"])
    return await _publish(
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
    field = labels(ctx)["fields"].get(ctx.args[1])
    if field is None:
        raise DomainError("act_edit_field", field=ctx.args[1], number=act.id)
    value = ctx.args[2]
    now = utcnow()
    changes: dict[str, Any]
    if field == "time":
        start, end = range_of(ctx, value, now)
        changes = {"starts_at": start, "ends_at": end}
    elif field == "signup_deadline":
        changes = {field: act.starts_at if is_skip(ctx, value) else when(ctx, value, now)}
    elif field == "capacity":
        changes = {field: capacity_of(ctx, value)}
    elif field == "kind":
        kind = kind_of(ctx, value)
        if kind is None:
            raise DomainError("act_bad_kind", kind=value[:20])
        changes = {field: kind}
    elif field == "audience":
        audience = audience_of(ctx, value)
        if audience is None:
            raise DomainError("act_bad_audience", audience=value[:20])
        changes = {field: audience}
    else:
        changes = {field: value}
    hours = settings(ctx).confirm_window_hours
    promoted = await act.revise(await ctx.person(), now=now, confirm_hours=hours, **changes)
    await tell_promoted(ctx, act, promoted)
    if field in ("time", "place"):
        others = [
            s
            for s in await Signup.filter(activity_id=act.id, status__in=ACTIVE)
            if s.id not in {p.id for p in promoted}
        ]
        notify(
            ctx,
            await signup_targets(others),
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
    told = await act.cancel(ctx.args[1], await ctx.person())
    notify(
        ctx,
        await signup_targets(told),
        "act_notice",
        f"act:{act.id}:cancelled",
        kind="cancelled",
        act=act,
    )
    return say(ctx, "act_done", action="cancelled", act=act, told=len(told))


# -- 菜单 -----------------------------------------------------------------------------
def _page(ctx: Ctx, word: str) -> int | None:
    w = fold_width(word).strip()
    for token in labels(ctx).get("page_words", []):
        w = w.replace(token, "")
    return int(w) if w.isdigit() and w != fold_width(word).strip() else None


async def visible_upcoming(ctx: Ctx, now: datetime) -> list[Activity]:
    query = Activity.filter(status="open", ends_at__gt=now)
    org = await home_org(ctx)  # in private: the asker's community, when known
    if org is not None:
        path = org.path
        query = query.filter(Q(org__path__in=ancestor_paths(path)) | Q(org__path__startswith=path))
    rows = await query.select_related("org").order_by("starts_at", "id")
    return [a for a in rows if a.open_to(ctx.caller)]


@router.command("活动", "menu", args=[Arg("number_or_page", required=False)])
async def menu(ctx: Ctx) -> Reply:
    """近期活动（本周的在前），或一项活动的详情。"""
    arg = ctx.args[0] if ctx.args else ""
    page = _page(ctx, arg) if arg else 1
    if arg and page is None:
        return await _detail(ctx, arg)
    page = max(page or 1, 1)
    now = utcnow()
    rows = await visible_upcoming(ctx, now)
    size = settings(ctx).page_size
    pages = max((len(rows) + size - 1) // size, 1)
    shown = rows[(page - 1) * size : page * size]
    week_end = week_range(now)[1]
    return say(
        ctx,
        "act_menu",
        this_week=[a for a in shown if a.starts_at < week_end],
        later=[a for a in shown if a.starts_at >= week_end],
        total=len(rows),
        page=page,
        pages=pages,
    )


async def _detail(ctx: Ctx, number: str) -> Reply:
    act = await Activity.by_number(number)
    officer = ctx.caller.is_officer_of(act.org)
    if not act.open_to(ctx.caller):
        raise DomainError("act_not_visible", number=act.id)
    mine = None
    position = 0
    if ctx.caller.person_id is not None:
        mine = await Signup.filter(
            activity_id=act.id, person_id=ctx.caller.person_id, status__in=ACTIVE
        ).first()
        position = await mine.position() if mine else 0
    return say(
        ctx,
        "act_detail",
        act=act,
        f=await act.figures(),
        roster=await act.roster() if officer else [],
        officer=officer,
        mine=mine,
        position=position,
    )


# -- 报名 -----------------------------------------------------------------------------
@router.command("报名", "join", args=[Arg("number")], mutates=True)
async def join(ctx: Ctx) -> Reply:
    """报名：有名额即确认，满了进入候补。"""
    act = await Activity.by_number(ctx.args[0])
    signup = await act.join(await ctx.person(), ctx.caller, reply_target=reply_target(ctx.inbound))
    return say(
        ctx, "act_done", action="joined", act=act, signup=signup, position=await signup.position()
    )


@router.command("取消报名", "unjoin", args=[Arg("number")], mutates=True)
async def unjoin(ctx: Ctx) -> Reply:
    """取消报名；空出的名额按顺序给候补的人，并通知他们。"""
    act = await Activity.by_number(ctx.args[0])
    cfg = settings(ctx)
    promoted = await act.leave(
        await ctx.person(),
        confirm_hours=cfg.confirm_window_hours,
        late_cancel_hours=cfg.late_cancel_hours,
    )
    await tell_promoted(ctx, act, promoted)
    return say(ctx, "act_done", action="unjoined", act=act)


@router.command("我的活动", "myactivities")
async def my_activities(ctx: Ctx) -> Reply:
    """我报名的、还没结束的活动，和最近签到过的。"""
    me = ctx.caller.person_id
    upcoming: list[tuple[Signup, int]] = []
    attended: list[Signup] = []
    if me is not None:
        now = utcnow()
        for s in (
            await Signup.filter(
                person_id=me, status__in=ACTIVE, activity__ends_at__gt=now, attended_at__isnull=True
            )
            .select_related("activity")
            .order_by("activity__starts_at", "id")
        ):
            upcoming.append((s, await s.position()))
        attended = (
            await Signup.filter(person_id=me, attended_at__isnull=False)
            .select_related("activity")
            .order_by("-attended_at")
            .limit(5)
        )
    return say(ctx, "act_mine", upcoming=upcoming, attended=attended)


# -- 签到 -----------------------------------------------------------------------------
@router.command(
    "签到码",
    "checkincode",
    permission=OFFICER,
    args=[Arg("number")],
    mutates=True,
    answer_privately=True,
)
async def checkin_code(ctx: Ctx) -> Reply:
    """现场签到码：开始前 30 分钟到结束有效。"""
    act = await activity_for_officer(ctx, ctx.args[0])
    code = await act.issue_code(open_minutes=settings(ctx).code_open_minutes)
    return say(ctx, "act_done", action="code", act=act, code=code)


@router.command("签到", "attend", args=[Arg("number"), Arg("code")], mutates=True)
async def attend(ctx: Ctx) -> Reply:
    """凭现场公布的签到码签到；记到场、志愿时长和积分。"""
    act = await Activity.by_number(ctx.args[0])
    cfg = settings(ctx)
    result = await act.attend(
        await ctx.person(),
        ctx.caller,
        ctx.args[1],
        open_minutes=cfg.code_open_minutes,
        lock_attempts=cfg.code_lock_attempts,
        lock_minutes=cfg.code_lock_minutes,
        points_attendance=cfg.points_attendance,
        points_per_hour=cfg.points_per_volunteer_hour,
        reply_target=reply_target(ctx.inbound),
    )
    if result.wrong_code:
        # Not raised: the wrong attempt must be committed to count towards the lock-out.
        text = ctx.refusal(
            DomainError("act_wrong_code", left=result.attempts_left, until=result.locked_until)
        )
        return Reply(text, at_sender=ctx.inbound.is_group)
    return say(ctx, "act_done", action="attended", act=act, r=result)


# -- 时间银行与积分 -------------------------------------------------------------------------
@router.command("时间银行", "timebank")
async def timebank(ctx: Ctx) -> Reply:
    """我的志愿时长余额和最近的流水。"""
    me = ctx.caller.person_id
    rows: list[TimeBankEntry] = []
    total = Decimal("0.0")
    if me is not None:
        total = await balance(me)
        rows = (
            await TimeBankEntry.filter(person_id=me)
            .select_related("activity")
            .order_by("-created_at", "-id")
            .limit(10)
        )
    return say(ctx, "act_timebank", balance=total, rows=rows)


async def _find_person(ctx: Ctx, text: str) -> Person:
    name = fold_width(text).strip()
    scope = officer_paths(ctx)
    if name.startswith("#") and name[1:].isdigit():
        found = await Person.filter(id=int(name[1:]))
    else:
        found = await Person.filter(Q(real_name=name) | Q(display_name=name)).order_by("id")
    if "/" not in scope:
        allowed: set[int] = set()
        for path in scope:
            org = await Organization.filter(path=path).first()
            if org is not None:
                allowed |= await people_of(org)
        banked = set(
            await TimeBankEntry.filter(
                Q(*[Q(org__path__startswith=p) for p in scope], join_type="OR"),
                person_id__in=[p.id for p in found],
            ).values_list("person_id", flat=True)
        )
        found = [p for p in found if p.id in allowed | banked]
    if not found:
        raise DomainError("timebank_unknown_person", name=name)
    if len(found) > 1:
        raise DomainError("timebank_ambiguous", name=name, count=len(found), people=found)
    return found[0]


@router.command(
    "兑换",
    "redeem",
    args=[Arg("who"), Arg("hours", required=False), Arg("item", required=False, rest=True)],
    mutates=True,
)
async def redeem(ctx: Ctx) -> Reply:
    """`/兑换 物品`：用自己的余额兑换目录里的一项（handlers/redemption.py）；
    `/兑换 成员 小时 物品`（党务工作者）：扣成员的小时数换物品或服务，不许透支，记下经办人。"""
    if len(ctx.args) == 1:
        from handlers.redemption import redeem_item  # (it imports this module)

        return await redeem_item(ctx, ctx.args[0])
    if len(ctx.args) < 3 or not OFFICER.check(ctx.caller, ctx.org):
        raise DomainError(
            "redeem_usage", officer=OFFICER.check(ctx.caller, ctx.org), for_member=len(ctx.args) > 1
        )
    person = await _find_person(ctx, ctx.args[0])
    org = await publishing_org(ctx) if (ctx.org or ctx.caller.officer_orgs()) else None
    entry, left = await TimeBankEntry.redeem(
        person, ctx.args[1], ctx.args[2], await ctx.person(), org=org
    )
    notify(
        ctx,
        await user_targets(person.id),
        "act_notice",
        f"tb:{entry.id}",
        kind="redeemed",
        entry=entry,
        left=left,
    )
    return say(ctx, "act_done", action="redeemed", person=person, entry=entry, left=left)


@router.command("积分", "points")
async def points(ctx: Ctx) -> Reply:
    """我的积分：签到、志愿服务、学习；本月和累计。"""
    me = ctx.caller.person_id
    empty = {"attendance": 0, "volunteer": 0, "lesson": 0, "adjust": 0, "redeem": 0, "total": 0}
    month = await points_of(me, month_range(utcnow())[0]) if me is not None else empty
    total = await points_of(me) if me is not None else empty
    from handlers.timebank import adjustments_of  # (it imports this module)

    adjusted = await adjustments_of(me) if me is not None else []
    return say(ctx, "act_points", month=month, total=total, adjusted=adjusted)


async def my_org(ctx: Ctx) -> Organization:
    if ctx.org is not None:
        return await Organization.get(id=ctx.org.id)
    me = ctx.caller.person_id
    if me is not None:
        grant = (
            await RoleGrant.filter(
                person_id=me, role__in=("member", "officer"), org_id__isnull=False
            )
            .select_related("org")
            .order_by("id")
            .first()
        )
        if grant is not None:
            return grant.org
        person = await Person.filter(id=me).select_related("local_org", "home_org").first()
        if person is not None and (person.local_org or person.home_org):
            return person.local_org or person.home_org
    raise DomainError("act_rank_need_org")


@router.command("排行", "rank", args=[Arg("what", required=False)])
async def rank(ctx: Ctx) -> Reply:
    """本组织本月积分前 10 名；“/排行 学习”是学习达人榜。"""
    lessons = bool(ctx.args) and ctx.args[0] in labels(ctx).get("lesson_words", [])
    org = await my_org(ctx)
    rows = await leaderboard(org, utcnow(), kind="lesson" if lessons else None)
    return say(ctx, "act_rank", rows=rows, target_org=org, lessons=lessons, me=ctx.caller.person_id)


# -- 三会一课 ----------------------------------------------------------------------------
@router.command("三会一课", "compliance", permission=OFFICER, args=[Arg("page", required=False)])
async def compliance_report(ctx: Ctx) -> Reply:
    """每个支部本期三会一课是否按时开、到会率（每页 page_size 个支部）。"""
    paths = officer_paths(ctx)
    scope = Q(pk__in=[])
    for p in paths:
        scope |= Q(path__startswith=p)
    branches = Organization.filter(scope, kind="branch")
    size = settings(ctx).page_size
    pages = max((await branches.count() + size - 1) // size, 1)
    page = min(page_arg(ctx), pages)
    shown = await branches.order_by("path").offset((page - 1) * size).limit(size)
    report = await compliance(shown, utcnow())
    return say(ctx, "act_compliance", report=report, page=page, pages=pages)


# -- 提醒与签到汇总（调度器） -------------------------------------------------------------------
@router.every(lambda config: config.activities.reminder_interval_minutes * 60)
async def reminders(runtime: Any, now: datetime) -> list[Push]:
    """People signed up (confirmed) are reminded once, within the lead before the start."""
    return await reminder_pushes(runtime, now, settings(runtime).reminder_lead_hours)


async def reminder_pushes(runtime: Any, now: datetime, lead_hours: float = 2.0) -> list[Push]:
    soon = now + timedelta(hours=lead_hours)
    rows = (
        await Signup.filter(
            status="confirmed",
            activity__status="open",
            activity__starts_at__gt=now,
            activity__starts_at__lte=soon,
        )
        .select_related("activity", "activity__org")
        .order_by("id")
    )
    pushes: list[Push] = []
    texts: dict[int, str] = {}
    reach = await Identity.targets_of(s.person_id for s in rows)
    for s in rows:
        act = s.activity
        if act.id not in texts:
            texts[act.id] = runtime.templates.render(
                "act_notice", kind="reminder", act=act, **render_vars(runtime)
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
    rows = (
        await Activity.filter(status="open", ends_at__lte=now, ends_at__gt=now - timedelta(days=1))
        .select_related("org")
        .order_by("ends_at", "id")
    )
    pushes: list[Push] = []
    for act in rows:
        targets = (
            await user_targets(act.created_by_id)
            if act.created_by_id is not None
            else await officer_targets(act.org)
        )
        if not targets:
            continue
        f = await act.figures()
        text = runtime.templates.render(
            "act_notice", kind="summary", act=act, f=f, **render_vars(runtime)
        )
        for target in targets:
            pushes.append(Push(target, text, f"act:{act.id}:summary:{target}", "activity_summary"))
    return pushes


# -- 广播变量 --------------------------------------------------------------------------
@router.variables
async def week_variables(runtime: Any, org: Organization | None, now: datetime) -> dict[str, str]:
    """{{ 本周活动 }} / {{ activities }} in broadcasts: this week's activities visible in
    the organisation, one a line (act_week.j2)."""
    from models.activities import week_activities

    acts = await week_activities(org.path if org else "/", now)
    weekdays = runtime.templates.vocabulary("calendar")["weekdays"]
    text = runtime.templates.render("act_week", acts=acts, weekdays=weekdays)
    return {"activities": text, "本周活动": text}
