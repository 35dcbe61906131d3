"""时间银行与积分：余额和流水、党务工作者经办的兑换、积分、排行。"""

from __future__ import annotations

from decimal import Decimal

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.activities.common import notify, router, say, service
from models.activities import (
    TimeBankEntry,
    adjustments_of,
    award_points,
    balance,
    find_person,
    leaderboard,
    month_range,
    points_since_and_ever,
)
from models.claims import member_org
from models.errors import DomainError
from models.people import Organization, Person, person_targets


@router.command("时间银行", "timebank")
async def timebank(ctx: Ctx) -> Reply:
    """我的志愿时长余额和最近的流水。"""
    me = ctx.caller.person_id
    rows: list[TimeBankEntry] = []
    total = Decimal("0.0")
    if me is not None:
        total = await balance(me)
        rows = await TimeBankEntry.latest_of(me)
    return say(ctx, "act_timebank", balance=total, rows=rows)


@router.command(
    "兑换",
    "redeem",
    args=[Arg("who"), Arg("hours", required=False), Arg("item", required=False, rest=True)],
    mutates=True,
)
async def redeem(ctx: Ctx) -> Reply:
    """`/兑换 物品`：用自己的余额兑换目录里的一项（兑换目录服务的 "redeem_item"）；
    `/兑换 成员 小时 物品`（党务工作者）：扣成员的小时数换物品或服务，不许透支，记下经办人。"""
    officer = OFFICER.check(ctx.caller, ctx.org)
    redeem_item = ctx.runtime.registry.provided("redeem_item")
    if len(ctx.args) == 1 and redeem_item is not None:
        return await redeem_item(ctx, ctx.args[0])  # type: ignore[no-any-return]
    if len(ctx.args) < 3 or not officer:
        raise DomainError("redeem_usage", officer=officer, for_member=len(ctx.args) > 1)
    person = await find_person(ctx.args[0], ctx.scope_paths())
    org = await ctx.acting_org()
    entry, left = await TimeBankEntry.redeem(
        person, ctx.args[1], ctx.args[2], await ctx.person(), now=ctx.now(), org=org
    )
    notify(
        ctx,
        await person_targets(person.id),
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
    month, total = await points_since_and_ever(me, month_range(ctx.now())[0])
    adjusted = await adjustments_of(me)
    return say(ctx, "act_points", month=month, total=total, adjusted=adjusted)


async def rank_org(ctx: Ctx) -> Organization:
    """Whose ranking: the bound group's organisation, else the asker's own."""
    if ctx.org is not None:
        return await Organization.get(id=ctx.org.id)
    org = await member_org(ctx.caller.person_id) if ctx.caller.person_id is not None else None
    if org is None:
        raise DomainError("act_rank_need_org")
    return org


@router.command("排行", "rank", args=[Arg("what", required=False)])
async def rank(ctx: Ctx) -> Reply:
    """本组织本月积分前 10 名；“/排行 学习”是学习达人榜。"""
    lessons = bool(ctx.args) and ctx.args[0] in service.labels(ctx).get("lesson_words", [])
    org = await rank_org(ctx)
    rows = await leaderboard(org, ctx.now(), kind="lesson" if lessons else None)
    return say(ctx, "act_rank", rows=rows, target_org=org, lessons=lessons, me=ctx.caller.person_id)


@router.provide("lesson_points")
async def lesson_points(ctx: Ctx, person: Person, day: str) -> int:
    """每日党课学习打卡的积分（每人每天一次）：给了多少分，已给过则 0。
    Offered to the broadcasts service's /学习 (Registry.provided)."""
    points = ctx.runtime.config.activities.points_lesson
    org_id = person.local_org_id or person.home_org_id
    first = await award_points(
        person.id, "lesson", points, f"lesson:{day}", org_id=org_id, now=ctx.now()
    )
    return points if first else 0
