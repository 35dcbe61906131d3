"""订单式服务的后续：待补充 / 补充、回访、督办、附图。

The requester answers a question or a return visit by a plain message in the chat where
they filed the request (asking.py).
"""

from __future__ import annotations

from datetime import timedelta

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.requests.asking import (
    Supplement,
    Visit,
    end_requester_dialog,
    image_of,
    start_requester_dialog,
)
from handlers.requests.common import followup_notice, router, service
from models.errors import DomainError
from models.requests import ServiceRequest, visit_choice


# -- 待补充 / 补充 ---------------------------------------------------------------------
@router.command(
    "待补充",
    "ask",
    permission=OFFICER,
    args=[Arg("number"), Arg("question", rest=True)],
    mutates=True,
)
async def ask(ctx: Ctx) -> Reply:
    """办理人请诉求人补充情况；办理时限暂停，诉求人回答后继续。"""
    req = await ServiceRequest.for_action(ctx.args[0], "ask", ctx.caller)
    question = ctx.args[1]
    await req.ask_requester(question, await ctx.person(), chat=ctx.inbound.chat_key, now=ctx.now())
    hours = ctx.runtime.config.requests.answer_window_hours
    await start_requester_dialog(ctx, req, Supplement.answer, hours)
    followup_notice(
        ctx,
        [req.reply_target],
        f"req:{req.number}:ask:{await req.count_events('ask')}",
        req=req,
        action="ask",
        note=question,
    )
    return service.say(ctx, "request_followup_done", req=req, action="ask")


async def supplement_and_say(ctx: Ctx, number: str, text: str) -> Reply:
    req = await ServiceRequest.for_action(number, "answer", ctx.caller)
    await req.supplement(text, await ctx.person(), chat=ctx.inbound.chat_key, now=ctx.now())
    await end_requester_dialog(ctx, req, Supplement)
    followup_notice(
        ctx,
        await req.handler_targets(),
        f"req:{req.number}:answer:{await req.count_events('answer')}",
        req=req,
        action="answer",
        note=text,
    )
    return service.say(ctx, "request_followup_done", req=req, action="answer")


@router.command("补充", "supplement", args=[Arg("number"), Arg("content", rest=True)], mutates=True)
async def supplement(ctx: Ctx) -> Reply:
    """回答办理人的问题（待补充），办理接着进行。"""
    return await supplement_and_say(ctx, ctx.args[0], ctx.args[1])


@router.step(Supplement.answer)
async def supplement_answer(ctx: Ctx) -> Reply:
    number = ctx.dialog.data["number"]
    await ctx.dialog.finish()
    return await supplement_and_say(ctx, number, ctx.rest)


# -- 回访 -------------------------------------------------------------------------
async def visit_and_say(ctx: Ctx, number: str, choice: int) -> Reply:
    req = await ServiceRequest.by_number(number)
    req.check_requester(ctx.caller.person_id)
    reopened = await req.answer_visit(
        choice, await ctx.person(), chat=ctx.inbound.chat_key, now=ctx.now()
    )
    await end_requester_dialog(ctx, req, Visit)
    if reopened:
        key = f"req:{req.number}:reopen:{await req.count_events('reopen')}"
        targets = await req.handler_targets() + await req.parent_targets()
        followup_notice(ctx, targets, key, req=req, action="reopen")
    return service.say(ctx, "request_followup_done", req=req, action="visit", reopened=reopened)


@router.step(Visit.answer)
async def visit_answer(ctx: Ctx) -> Reply:
    number = ctx.dialog.data["number"]
    await ctx.dialog.finish()
    return await visit_and_say(ctx, number, ctx.answer)


@router.command("回访", "returnvisit", args=[Arg("number"), Arg("answer")], mutates=True)
async def visit(ctx: Ctx) -> Reply:
    """回答回访：1 满意 2 基本满意 3 不满意（3 会重新办理）。"""
    choice = visit_choice(ctx.args[1], service.labels(ctx).get("visit", {}))
    if choice is None:
        raise DomainError("request_bad_visit", number=ctx.args[0].upper())
    return await visit_and_say(ctx, ctx.args[0], choice)


# -- 督办 -------------------------------------------------------------------------
@router.command(
    "督办",
    "supervise",
    permission=OFFICER,
    args=[Arg("number"), Arg("demand", rest=True)],
    mutates=True,
)
async def supervise(ctx: Ctx) -> Reply:
    """上级组织督办下级的诉求：办理人会收到要求，全过程里留痕。"""
    req = await ServiceRequest.for_action(ctx.args[0], "supervise", ctx.caller)
    await req.supervise(ctx.args[1], await ctx.person(), chat=ctx.inbound.chat_key, now=ctx.now())
    targets = await req.handler_targets()
    followup_notice(
        ctx,
        targets,
        f"req:{req.number}:supervise:{await req.count_events('supervise')}",
        req=req,
        action="supervise",
        note=ctx.args[1],
        by_name=ctx.caller.name,
    )
    return service.say(
        ctx, "request_followup_done", req=req, action="supervise", notified=len(targets)
    )


# -- 附图 -------------------------------------------------------------------------
@router.on_event("image", mutates=True)
async def image(ctx: Ctx) -> Reply | None:
    """An image right after /回单 (from the handler) or /诉求 (from the requester) is kept
    with that request as 附图; any other image gets the usual "text only" answer."""
    media_id, url = image_of(ctx)
    me = ctx.caller.person_id
    if me is not None and (media_id or url):
        now = ctx.now()
        since = now - timedelta(minutes=ctx.runtime.config.requests.evidence_minutes)
        target, kind = await ServiceRequest.image_belongs_to(me, since)
        if target is not None:
            await target.attach(kind, media_id, url, await ctx.person(), now=now)
            return service.say(ctx, "request_followup_done", req=target, action="attach", kind=kind)
    if ctx.inbound.is_group:
        return None
    return ctx.render("unsupported", kind=ctx.inbound.kind)
