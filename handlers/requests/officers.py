"""做单、转单、回单、退回与待办队列：党务工作者的命令。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.requests.asking import attach_sent_image, start_return_visit
from handlers.requests.common import PAGE, detail, followup_notice, router, service, tell_requester
from models.people import Organization, officer_targets
from models.requests import ServiceRequest


@router.command("接单", "accept", permission=OFFICER, args=[Arg("number")], mutates=True)
async def accept(ctx: Ctx) -> Reply:
    """接单办理（做单）：这张工单由我来办。"""
    req = await ServiceRequest.for_action(ctx.args[0], "accept", ctx.caller)
    await req.accept(await ctx.person(), chat=ctx.inbound.chat_key, now=ctx.now())
    await tell_requester(ctx, req, "accept", f"req:{req.number}:accept:{req.handler_id}")
    return service.say(ctx, "request_done", req=req, action="accept")


@router.command(
    "转单",
    "forward",
    permission=OFFICER,
    args=[Arg("number"), Arg("orgcode"), Arg("note", rest=True)],
    mutates=True,
)
async def forward(ctx: Ctx) -> Reply:
    """转单：交给街道科室或社会组织办理，对方绑定的群会收到通知。"""
    req = await ServiceRequest.for_action(ctx.args[0], "forward", ctx.caller)
    to_org = await Organization.by_code(ctx.args[1])
    note = ctx.args[2] if len(ctx.args) > 2 else ""
    await req.forward(
        to_org,
        note,
        await ctx.person(),
        chat=ctx.inbound.chat_key,
        now=ctx.now(),
        max_forwards=ctx.runtime.config.requests.max_forwards,
    )
    n = await req.count_events("forward")
    targets = await officer_targets(to_org)
    service.notify(
        ctx, targets, "request_notice_forwarded", f"req:{req.number}:fwd{n}", req=req, note=note
    )
    if req.forwarded_back:  # ping-pong between units: the parent organisation hears of it
        followup_notice(
            ctx,
            await req.parent_targets(),
            f"req:{req.number}:back{n}",
            req=req,
            action="forward_back",
            note=note,
            to_org=to_org,
        )
    return service.say(
        ctx, "request_done", req=req, action="forward", to_org=to_org, notified=len(targets)
    )


@router.command(
    "回单",
    "close",
    permission=OFFICER,
    args=[Arg("number"), Arg("result", rest=True)],
    mutates=True,
)
async def close(ctx: Ctx) -> Reply:
    """回单：写明办理结果，诉求人会在提交诉求的地方收到通知。"""
    req = await ServiceRequest.for_action(ctx.args[0], "close", ctx.caller)
    await req.close(
        ctx.args[1],
        await ctx.person(),
        chat=ctx.inbound.chat_key,
        now=ctx.now(),
        visit_hours=ctx.runtime.config.requests.visit_hours,
    )
    await start_return_visit(ctx, req)
    await attach_sent_image(ctx, req, "result")
    n = await req.count_events("close")
    await tell_requester(ctx, req, "close", f"req:{req.number}:close:{n}")
    return service.say(ctx, "request_done", req=req, action="close")


@router.command(
    "退回",
    "reject",
    permission=OFFICER,
    args=[Arg("number"), Arg("reason", rest=True)],
    mutates=True,
)
async def reject(ctx: Ctx) -> Reply:
    """退回：不予受理或无法办理，写明原因，诉求人会收到通知。"""
    req = await ServiceRequest.for_action(ctx.args[0], "reject", ctx.caller)
    await req.reject(ctx.args[1], await ctx.person(), chat=ctx.inbound.chat_key, now=ctx.now())
    await tell_requester(ctx, req, "reject", f"req:{req.number}:reject")
    return service.say(ctx, "request_done", req=req, action="reject")


@router.command(
    "工单",
    "queue",
    permission=OFFICER,
    args=[Arg("number_or_page", required=False)],
    answer_privately=True,
)
async def queue(ctx: Ctx) -> Reply:
    """`/工单`：本组织待办（未办结、超时、我的），每页 10 条；`/工单 编号`：全过程。"""
    arg = ctx.args[0] if ctx.args else "1"
    if not arg.isdigit():
        req = await ServiceRequest.by_number(arg)
        req.check_officer(ctx.caller)
        return await detail(ctx, req, officer=True)
    page = max(int(arg), 1)
    orgs = [ctx.org] if ctx.org is not None else ctx.caller.officer_orgs()
    paths = None if ctx.org is None and ctx.caller.is_admin else [o.path for o in orgs]
    me = ctx.caller.person_id
    shown, total, overdue, mine = await ServiceRequest.queue(paths, me, page, PAGE, ctx.now())
    pages = max((total + PAGE - 1) // PAGE, 1)
    return service.say(
        ctx,
        "request_queue",
        rows=shown,
        total=total,
        overdue=overdue,
        mine=mine,
        page=page,
        pages=pages,
        me=me,
        orgs=orgs,
    )
