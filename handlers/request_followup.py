"""订单式服务的后续：待补充 / 补充、回访、督办、附图、未回访。

The rules are on `models.request_followup.FollowUp` (mixed into ServiceRequest); this
module parses, checks who asks, calls the model and says what happened. The requester
answers a question or a return visit by a plain message in the chat where they filed
the request: a dialog is started there for them (bot/dialogs.py), so a numbered answer
never mixes with another dialog's numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.context import Ctx
from bot.inbound import Reply
from bot.outbound import Push
from bot.registry import OFFICER, Arg, Router
from handlers.checkin import user_targets
from handlers.requests import notify, officer_request, own_request, say
from models.errors import DomainError
from models.people import Identity, Organization, officer_targets
from models.request_followup import expire_visits, visit_choice
from models.requests import RequestEvent, ServiceRequest, utcnow

router = Router("request_followup")
router.refusals = "refused/requests"  # its refusal texts (bot/refusals.py)


# -- helpers ------------------------------------------------------------------
async def filing_chat(req: ServiceRequest) -> tuple[str, str] | None:
    """(user_key, chat_key) of the requester in the chat where they filed the request."""
    filed = await RequestEvent.filter(request_id=req.id, action="filed").first()
    if filed is None or ":" not in filed.chat:
        return None
    platform = filed.chat.split(":", 1)[0]
    ident = await Identity.filter(person_id=req.requester_id, platform=platform).first()
    if ident is None:
        return None
    return f"{platform}:{ident.user_id}", filed.chat


async def start_requester_dialog(ctx: Ctx, req: ServiceRequest, dialog: str, hours: float) -> None:
    """Let the requester answer with a plain message where they filed the request."""
    where = await filing_chat(req)
    if where is None:
        return
    user_key, chat_key = where
    busy = await ctx.runtime.dialogs.current(user_key, chat_key)
    if busy is not None and busy.expires_at > utcnow() and busy.dialog not in (dialog,):
        return  # never cut into another conversation; the notice names the command too
    await ctx.runtime.dialogs.start(
        user_key,
        chat_key,
        dialog,
        "answer",
        {"number": req.number},
        expires_at=utcnow() + timedelta(hours=hours),
    )


async def end_requester_dialog(ctx: Ctx, req: ServiceRequest, dialog: str) -> None:
    """The requester answered (here or elsewhere): the question in the filing chat is over."""
    where = await filing_chat(req)
    if where is None:
        return
    state = await ctx.runtime.dialogs.current(*where)
    if state is not None and state.dialog == dialog and state.data.get("number") == req.number:
        await ctx.runtime.dialogs.clear(*where)


async def handler_targets(req: ServiceRequest) -> list[str]:
    """The handler privately; the unit holding the request when nobody has taken it."""
    if req.handler_id is not None:
        return await user_targets(req.handler_id)
    holder = req.assignee_org if req.status == "forwarded" else req.org
    return await officer_targets(holder)


async def parent_targets(org: Organization) -> list[str]:
    """Where the supervising (parent) organisation's officers are told."""
    parent = await Organization.filter(id=org.parent_id).first() if org.parent_id else None
    return await officer_targets(parent) if parent is not None else []


async def start_return_visit(ctx: Ctx, req: ServiceRequest) -> None:
    """After 回单: the requester is asked 1 满意 2 基本满意 3 不满意 (in the close notice)."""
    await start_requester_dialog(ctx, req, "visit", ctx.runtime.config.requests.visit_hours)


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
    req = await officer_request(ctx, ctx.args[0])
    question = ctx.args[1]
    await req.ask_requester(question, await ctx.person(), chat=ctx.inbound.chat_key)
    hours = ctx.runtime.config.requests.answer_window_hours
    await start_requester_dialog(ctx, req, "supplement", hours)
    await notify(
        ctx,
        [req.reply_target],
        "request_notice_followup",
        f"req:{req.number}:ask:{await req.events.filter(action='ask').count()}",
        req=req,
        action="ask",
        note=question,
    )
    return say(ctx, "request_followup_done", req=req, action="ask")


async def _supplement(ctx: Ctx, number: str, text: str) -> Reply:
    req = await own_request(ctx, number)
    await req.supplement(text, await ctx.person(), chat=ctx.inbound.chat_key)
    await end_requester_dialog(ctx, req, "supplement")
    n = await req.events.filter(action="answer").count()
    await notify(
        ctx,
        await handler_targets(req),
        "request_notice_followup",
        f"req:{req.number}:answer:{n}",
        req=req,
        action="answer",
        note=text,
    )
    return say(ctx, "request_followup_done", req=req, action="answer")


@router.command("补充", "supplement", args=[Arg("number"), Arg("content", rest=True)], mutates=True)
async def supplement(ctx: Ctx) -> Reply:
    """回答办理人的问题（待补充），办理接着进行。"""
    return await _supplement(ctx, ctx.args[0], ctx.args[1])


@router.step("supplement", "answer")
async def supplement_answer(ctx: Ctx) -> Reply:
    number = ctx.dialog.data["number"]
    await ctx.dialog.finish()
    return await _supplement(ctx, number, ctx.rest)


# -- 回访 -------------------------------------------------------------------------
async def _visit(ctx: Ctx, number: str, choice: int) -> Reply:
    req = await own_request(ctx, number)
    reopened = await req.answer_visit(choice, await ctx.person(), chat=ctx.inbound.chat_key)
    await end_requester_dialog(ctx, req, "visit")
    if reopened:
        key = f"req:{req.number}:reopen:{await req.events.filter(action='reopen').count()}"
        targets = await handler_targets(req) + await parent_targets(req.org)
        await notify(ctx, targets, "request_notice_followup", key, req=req, action="reopen")
    return say(ctx, "request_followup_done", req=req, action="visit", reopened=reopened)


@router.step("visit", "answer")
async def visit_answer(ctx: Ctx) -> Reply:
    choice = visit_choice(ctx.rest)
    number = ctx.dialog.data["number"]
    if choice is None:
        return say(ctx, "request_followup_done", action="visit_again", number=number)
    await ctx.dialog.finish()
    return await _visit(ctx, number, choice)


@router.command("回访", "returnvisit", args=[Arg("number"), Arg("answer")], mutates=True)
async def visit(ctx: Ctx) -> Reply:
    """回答回访：1 满意 2 基本满意 3 不满意（3 会重新办理）。"""
    choice = visit_choice(ctx.args[1])
    if choice is None:
        raise DomainError("request_bad_visit", number=ctx.args[0].upper())
    return await _visit(ctx, ctx.args[0], choice)


@router.every(lambda config: config.requests.reminder_interval_minutes * 60)
async def visit_expiry(runtime: Any, now: datetime) -> list[Push]:
    """未回访: visits nobody answered in time are recorded as such (never as 满意)."""
    await expire_visits(now)
    return []


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
    req = await ServiceRequest.by_number(ctx.args[0])
    req.check_supervisor(ctx.caller)
    await req.supervise(ctx.args[1], await ctx.person(), chat=ctx.inbound.chat_key)
    n = await req.events.filter(action="supervise").count()
    targets = await handler_targets(req)
    await notify(
        ctx,
        targets,
        "request_notice_followup",
        f"req:{req.number}:supervise:{n}",
        req=req,
        action="supervise",
        note=ctx.args[1],
        by_name=ctx.caller.name,
    )
    return say(ctx, "request_followup_done", req=req, action="supervise", notified=len(targets))


# -- 附图 -------------------------------------------------------------------------
def image_of(ctx: Ctx) -> tuple[str, str]:
    """(media id, URL) of the image the platform sent with this message, if any."""
    extra = ctx.inbound.extra
    return str(extra.get("media_id", "")), str(extra.get("pic_url") or extra.get("url") or "")


async def attach_sent_image(ctx: Ctx, req: ServiceRequest, kind: str) -> None:
    """An image in the same message as /回单 or /诉求 (where the platform allows it)."""
    media_id, url = image_of(ctx)
    if media_id or url:
        await req.attach(kind, media_id, url, await ctx.person())


@router.on_event("image", mutates=True)
async def image(ctx: Ctx) -> Reply | None:
    """An image right after /回单 (from the handler) or /诉求 (from the requester) is kept
    with that request as 附图; any other image gets the usual "text only" answer."""
    inb = ctx.inbound
    media_id, url = image_of(ctx)
    me = ctx.caller.person_id
    if me is not None and (media_id or url):
        since = utcnow() - timedelta(minutes=ctx.runtime.config.requests.evidence_minutes)
        closed = (
            await ServiceRequest.filter(handler_id=me, closed_at__gte=since)
            .order_by("-closed_at")
            .first()
        )
        filed = (
            await ServiceRequest.filter(requester_id=me, created_at__gte=since)
            .order_by("-created_at")
            .first()
        )
        target, kind = (closed, "result") if closed is not None else (filed, "filed")
        if target is not None:
            await target.attach(kind, media_id, url, await ctx.person())
            return say(ctx, "request_followup_done", req=target, action="attach", kind=kind)
    if inb.is_group:
        return None
    return ctx.render("unsupported", kind=inb.kind)
