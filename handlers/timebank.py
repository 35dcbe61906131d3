"""时间银行与积分的后续：确认参加（候补递补）、自报时长与审核、积分申诉与调整。

The rules are on `models.waitlist`, `models.claims` and `models.activities`; this module
parses, checks who asks, calls them and says what happened (templates tb_*.j2).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from bot.clock import local
from bot.context import Ctx
from bot.inbound import Reply
from bot.outbound import Push
from bot.registry import OFFICER, Arg
from bot.service import Service
from bot.text import fold_width
from models.activities import Activity, find_person, need_org
from models.activities.rules import read_when
from models.claims import PointsAppeal, VolunteerClaim, adjust_hours, adjust_points
from models.errors import DomainError
from models.people import person_targets, scope_q
from models.timebank_export import timebank_rows
from models.waitlist import confirm_offer, expire_offers

service = Service("timebank", labels="activity_labels", purpose="activity")
router = service.router
router.refusals = "refused/timebank"  # its refusal texts (bot/refusals.py)
router.export("timebank", workbench=True)(timebank_rows)  # its ledger (bot/exports.py)
say = service.say
notify = service.notify
PAGE = 10


# -- 候补递补：确认参加 ------------------------------------------------------------------
@router.command("确认参加", "confirmjoin", args=[Arg("number")], mutates=True)
async def confirm_join(ctx: Ctx) -> Reply:
    """候补递补后确认参加（在通知写明的期限内）。"""
    act = await Activity.by_number(ctx.args[0])
    await confirm_offer(act, ctx.caller.person_id, now=ctx.now())
    return say(ctx, "tb_done", action="confirmed", act=act)


@router.every(lambda config: config.activities.reminder_interval_minutes * 60)
async def offers_expiry(runtime: Any, now: datetime) -> list[Push]:
    """Offers nobody confirmed in time pass to the next on the waitlist; both are told."""
    lapsed, offered = await expire_offers(now, runtime.config.activities.confirm_window_hours)
    render = runtime.templates.render
    labels = service.labels(runtime)
    pushes: list[Push] = []
    for s, kind in [(s, "lapsed") for s in lapsed] + [(s, "offered") for s in offered]:
        act = await Activity.get(id=s.activity_id)
        text = render("tb_notice", kind=kind, act=act, signup=s, labels=labels)
        for target in await person_targets(s.person_id):
            pushes.append(Push(target, text, f"act:{act.id}:{kind}:{s.id}:{target}", "activity"))
    return pushes


# -- 自报时长 ---------------------------------------------------------------------------
def split_claim(ctx: Ctx, text: str, now: datetime) -> tuple[str, str, date | None]:
    """ "敬老院陪聊 2小时 11月28日" → ("敬老院陪聊", "2", 2026-11-28)."""
    folded = fold_width(text)
    m = re.search(service.labels(ctx)["claim_hours"], folded, re.IGNORECASE)
    if m is None:
        raise DomainError("claim_need_hours")
    description = text[: m.start()].strip()
    rest = text[m.end() :].strip()
    day = None
    if rest:
        day = local(read_when(f"{rest} 12:00", now, ctx.runtime.config.bot.timezone)).date()
        if day > local(now).date() and not re.search(r"\d{4}", rest):
            # "11月28日" written in December means the last one, not next year's
            day = day.replace(year=day.year - 1)
    return description, m.group(1), day


@router.command("登记时长", "claimhours", args=[Arg("text", rest=True)], mutates=True)
async def claim_hours(ctx: Ctx) -> Reply:
    """自报志愿服务时长，等本组织党务工作者确认后才记入时间银行。"""
    now = ctx.now()
    description, hours, day = split_claim(ctx, ctx.args[0], now)
    claim = await VolunteerClaim.submit(await ctx.person(), description, hours, day, now=now)
    return say(ctx, "tb_done", action="claimed", claim=claim)


@router.command("时长审核", "claims", permission=OFFICER, args=[Arg("page", required=False)])
async def claims(ctx: Ctx) -> Reply:
    """待审核的自报时长和待处理的积分申诉（本组织及下级）。"""
    page = ctx.page()
    pending = (
        await VolunteerClaim.filter(scope_q(ctx.scope_paths()), status="pending")
        .select_related("person")
        .order_by("id")
        .offset((page - 1) * PAGE)
        .limit(PAGE)
    )
    appeals = (
        await PointsAppeal.filter(scope_q(ctx.scope_paths()), status="open")
        .select_related("person")
        .order_by("id")
        .limit(PAGE)
    )
    return say(ctx, "tb_queue", claims=pending, appeals=appeals, page=page)


async def _claim_for_officer(ctx: Ctx) -> VolunteerClaim:
    claim = await VolunteerClaim.by_number(ctx.args[0])
    claim.check_officer(ctx.caller)
    return claim


@router.command("确认时长", "approveclaim", permission=OFFICER, args=[Arg("number")], mutates=True)
async def approve_claim(ctx: Ctx) -> Reply:
    """确认一条自报时长：记入本人的时间银行。"""
    claim = await _claim_for_officer(ctx)
    await claim.confirm(await ctx.person(), now=ctx.now())
    targets = await person_targets(claim.person_id)
    notify(ctx, targets, "tb_notice", f"claim:{claim.id}:ok", kind="claim_ok", claim=claim)
    return say(ctx, "tb_done", action="claim_ok", claim=claim)


@router.command(
    "驳回时长",
    "declineclaim",
    permission=OFFICER,
    args=[Arg("number"), Arg("reason", rest=True)],
    mutates=True,
)
async def decline_claim(ctx: Ctx) -> Reply:
    """不通过一条自报时长，写明原因（会告诉本人）。"""
    claim = await _claim_for_officer(ctx)
    await claim.decline(await ctx.person(), ctx.args[1], now=ctx.now())
    targets = await person_targets(claim.person_id)
    notify(ctx, targets, "tb_notice", f"claim:{claim.id}:no", kind="claim_no", claim=claim)
    return say(ctx, "tb_done", action="claim_no", claim=claim)


# -- 积分申诉与调整 -----------------------------------------------------------------------
@router.command("积分申诉", "appeal", args=[Arg("text", rest=True)], mutates=True)
async def appeal(ctx: Ctx) -> Reply:
    """对积分或时长有异议：写明情况，本组织党务工作者处理后会告诉您。"""
    row = await PointsAppeal.open(await ctx.person(), ctx.args[0], now=ctx.now())
    return say(ctx, "tb_done", action="appealed", appeal=row)


async def _adjust(ctx: Ctx, what: str) -> Reply:
    person = await find_person(ctx.args[0], ctx.scope_paths())
    org = need_org(await ctx.acting_org())
    officer, now = await ctx.person(), ctx.now()
    if what == "points":
        entry = await adjust_points(person, ctx.args[1], ctx.args[2], officer, org=org, now=now)
        left = None
    else:
        entry, left = await adjust_hours(
            person, ctx.args[1], ctx.args[2], officer, org=org, now=now
        )
    key = f"adj:{what}:{entry.id}"
    variables = {"what": what, "entry": entry, "left": left, "person": person}
    notify(ctx, await person_targets(person.id), "tb_notice", key, kind="adjusted", **variables)
    return say(ctx, "tb_done", action="adjusted", **variables)


ADJUST_ARGS = [Arg("who"), Arg("amount"), Arg("reason", rest=True)]


@router.command("补积分", "adjustpoints", permission=OFFICER, args=ADJUST_ARGS, mutates=True)
async def adjust_points_cmd(ctx: Ctx) -> Reply:
    """补记或扣减积分（±N），写明原因；回应此人待处理的申诉。"""
    return await _adjust(ctx, "points")


@router.command("补时长", "adjusthours", permission=OFFICER, args=ADJUST_ARGS, mutates=True)
async def adjust_hours_cmd(ctx: Ctx) -> Reply:
    """补记或扣减时间银行时长（±H），写明原因；不许扣成负数。"""
    return await _adjust(ctx, "hours")
