"""诉求人的命令（进度、我的诉求、评价、催办）与党务公开。"""

from __future__ import annotations

from bot.clock import local
from bot.community import home_org
from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import EVERYONE, Arg
from handlers.requests.common import PAGE, detail, router, service
from models.errors import DomainError
from models.people import Organization, officer_targets
from models.requests import ServiceRequest, monthly_figures


@router.command("进度", "progress", args=[Arg("number")])
async def progress(ctx: Ctx) -> Reply:
    """查看一张诉求的办理进度（提出人或负责的党务工作者）。"""
    req = await ServiceRequest.by_number(ctx.args[0])
    req.check_viewer(ctx.caller)
    return await detail(ctx, req, officer=False)


@router.command("我的诉求", "myrequests", args=[Arg("page", required=False)])
async def my_requests(ctx: Ctx) -> Reply:
    """我提过的诉求，最近的在前，每页 10 条。"""
    page = int(ctx.args[0]) if ctx.args and ctx.args[0].isdigit() else 1
    rows, total = await ServiceRequest.filed_by(ctx.caller.person_id, page, PAGE)
    return service.say(ctx, "request_mine", rows=rows, total=total, page=max(page, 1))


@router.command(
    "评价",
    "rate",
    args=[Arg("number"), Arg("score"), Arg("comment", required=False, rest=True)],
    mutates=True,
)
async def rate(ctx: Ctx) -> Reply:
    """满意度评价：1–5 分，可附意见；2 分及以下会提醒组织的党务工作者。"""
    req = await ServiceRequest.for_action(ctx.args[0], "rate", ctx.caller)
    try:
        score = int(ctx.args[1])
    except ValueError:
        raise DomainError("request_bad_score", score=ctx.args[1]) from None
    comment = ctx.args[2] if len(ctx.args) > 2 else ""
    await req.rate(score, comment, await ctx.person(), chat=ctx.inbound.chat_key, now=ctx.now())
    if req.low_score:
        service.notify(
            ctx,
            await officer_targets(req.org),
            "request_notice_low_score",
            f"req:{req.number}:low",
            req=req,
        )
    return service.say(ctx, "request_done", req=req, action="rate")


@router.command("催办", "urge", args=[Arg("number")], mutates=True)
async def urge(ctx: Ctx) -> Reply:
    """催办：每张诉求每天一次，提醒正在办理的组织。"""
    req = await ServiceRequest.for_action(ctx.args[0], "urge", ctx.caller)
    now = ctx.now()
    await req.urge(await ctx.person(), chat=ctx.inbound.chat_key, now=now)
    day = local(now).strftime("%y%m%d")
    service.notify(
        ctx,
        await officer_targets(req.holder()),
        "request_notice_urge",
        f"req:{req.number}:urge:{day}",
        req=req,
    )
    return service.say(ctx, "request_done", req=req, action="urge")


@router.command("公开", "stats", permission=EVERYONE, args=[Arg("orgcode", required=False)])
async def stats(ctx: Ctx) -> Reply:
    """本月诉求办理情况：受理、办结、按时办结率、平均用时、满意度、分类。"""
    if ctx.args:
        org = await Organization.by_code(ctx.args[0])
    elif (home := await home_org(ctx)) is not None:
        org = await Organization.get(id=home.id)
    elif ctx.caller.officer_orgs():
        org = await Organization.get(id=ctx.caller.officer_orgs()[0].id)
    else:
        raise DomainError("request_stats_need_org")
    figures = await monthly_figures(org, now=ctx.now())
    return service.say(ctx, "request_stats", target_org=org, f=figures)
