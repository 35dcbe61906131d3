"""组织生活菜单（近期活动、一项活动的详情）、报名、取消报名、我的活动。"""

from __future__ import annotations

from bot.community import home_org
from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import Arg
from bot.text import fold_width
from handlers.activities.common import router, say, service, settings, tell_promoted
from models.activities import Activity, Signup, visible_upcoming_page, week_range


def page_of(ctx: Ctx, word: str) -> int | None:
    """ "第2页" / "p2" → 2 (page_words of activity_labels); None when it is no page."""
    w = fold_width(word).strip()
    for token in service.labels(ctx).get("page_words", []):
        w = w.replace(token, "")
    return int(w) if w.isdigit() and w != fold_width(word).strip() else None


@router.command("活动", "activities", args=[Arg("number_or_page", required=False)])
async def activities(ctx: Ctx) -> Reply:
    """近期活动（本周的在前），或一项活动的详情。"""
    arg = ctx.args[0] if ctx.args else ""
    page = page_of(ctx, arg) if arg else 1
    if arg and page is None:
        return await detail(ctx, arg)
    page = max(page or 1, 1)
    now = ctx.now()
    size = settings(ctx).page_size
    shown, total = await visible_upcoming_page(await home_org(ctx), ctx.caller, now, page, size)
    pages = max((total + size - 1) // size, 1)
    week_end = week_range(now)[1]
    return say(
        ctx,
        "act_menu",
        this_week=[a for a in shown if a.starts_at < week_end],
        later=[a for a in shown if a.starts_at >= week_end],
        total=total,
        page=page,
        pages=pages,
    )


async def detail(ctx: Ctx, number: str) -> Reply:
    act = await Activity.by_number(number)
    officer = ctx.caller.is_officer_of(act.org)
    act.check_visible(ctx.caller)
    mine = await Signup.active_of(act.id, ctx.caller.person_id)
    return say(
        ctx,
        "act_detail",
        act=act,
        f=await act.figures(),
        roster=await act.roster() if officer else [],
        officer=officer,
        mine=mine,
        position=await mine.position() if mine else 0,
    )


@router.command("报名", "join", args=[Arg("number")], mutates=True)
async def join(ctx: Ctx) -> Reply:
    """报名：有名额即确认，满了进入候补。"""
    act = await Activity.by_number(ctx.args[0])
    signup = await act.join(
        await ctx.person(), ctx.caller, now=ctx.now(), reply_target=ctx.inbound.reply_target
    )
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
        now=ctx.now(),
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
        for s in await Signup.upcoming_of(me, ctx.now()):
            upcoming.append((s, await s.position()))
        attended = await Signup.attended_by(me)
    return say(ctx, "act_mine", upcoming=upcoming, attended=attended)
