"""党务工作者的台账：流动党员、待确认的登记、查人、党员统计（都私聊回答）。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.checkin.common import PAGE, router, say
from models.checkin import CheckIn, MemberRegistration, find_people, summary


@router.command(
    "流动党员",
    "flowing",
    permission=OFFICER,
    args=[Arg("page", required=False)],
    answer_privately=True,
)
async def flowing(ctx: Ctx) -> Reply:
    """报到到本组织的党员（在的、已离开的），每页 10 条。"""
    page = ctx.page()
    rows, total = await CheckIn.page_in(ctx.scope_paths(), page, PAGE, ctx.now())
    pages = max((total + PAGE - 1) // PAGE, 1)
    return say(ctx, "checkin_list", what="flowing", rows=rows, total=total, page=page, pages=pages)


@router.command("待确认", "pending", permission=OFFICER, answer_privately=True)
async def pending(ctx: Ctx) -> Reply:
    """等我确认的党员登记。"""
    rows = await MemberRegistration.pending_in(ctx.scope_paths())
    return say(ctx, "checkin_list", what="pending", rows=rows, total=len(rows))


@router.command(
    "查人",
    "findmember",
    permission=OFFICER,
    args=[Arg("query", max_digits=18)],  # a phone or an ID-card number
    answer_privately=True,
)
async def find_member(ctx: Ctx) -> Reply:
    """按姓名或手机尾号查本组织的党员。"""
    rows = await find_people(ctx.scope_paths(), ctx.args[0])
    return say(ctx, "checkin_list", what="find", rows=rows, total=len(rows), query=ctx.args[0])


@router.command("党员统计", "memberstats", permission=OFFICER, answer_privately=True)
async def member_stats(ctx: Ctx) -> Reply:
    """登记党员、口袋党员、流入、流出、失联的人数。"""
    days = ctx.runtime.config.checkin.lost_days
    figures = await summary(ctx.scope_paths(), days, ctx.now())
    return say(ctx, "checkin_summary", f=figures, days=days)
