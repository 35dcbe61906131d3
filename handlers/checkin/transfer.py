"""接转组织关系：申请（三步的对话）、转出方批准或驳回、查看进度。"""

from __future__ import annotations

from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.checkin.common import notify, router, say
from models.checkin import TransferRequest
from models.checkin.rules import check_destination, org_text, transfer_reason
from models.org_names import org_from_answer
from models.people import Organization, officer_targets, person_targets


async def read_destination(ctx: Ctx, answer: str) -> Organization | str:
    """An org code in the system (not the one it leaves), or the organisation's name."""
    text = org_text(answer, "checkin_need_destination")
    org = await Organization.find(text)
    if org is not None:
        check_destination(ctx.dialog.data["from_org_id"], org.id, org.name)
    return org or text


class Transfer(Dialog, key="transfer", ask="checkin_ask"):
    """申请接转：转出组织（代码）、转入组织（代码或名称）、原因。"""

    source = Step(parse=lambda ctx, answer: org_from_answer(answer, ("branch",)), name="from")
    destination = Step(parse=read_destination, name="to")
    reason = Step(parse=lambda ctx, answer: transfer_reason(answer))


@router.command("转接", "transfer", mutates=True)
async def transfer(ctx: Ctx) -> Reply:
    """申请接转组织关系：转出组织、转入组织（代码或名称）、原因。"""
    await ctx.dialog.start(Transfer.source)
    return ctx.dialog.question(Transfer.source)


@router.step(Transfer.source)
async def transfer_from(ctx: Ctx) -> Reply:
    ctx.dialog.data["from_org_id"] = ctx.answer.id
    return await ctx.dialog.ask(Transfer.destination, from_name=ctx.answer.name)


@router.step(Transfer.destination)
async def transfer_to(ctx: Ctx) -> Reply:
    to = ctx.answer
    known = isinstance(to, Organization)
    ctx.dialog.data.update(to_org_id=to.id if known else None, to_text="" if known else to)
    return await ctx.dialog.ask(Transfer.reason)


@router.step(Transfer.reason)
async def transfer_reason_given(ctx: Ctx) -> Reply:
    data = ctx.dialog.data
    await ctx.dialog.finish()
    from_org = await Organization.get(id=data["from_org_id"])
    to_org = await Organization.get(id=data["to_org_id"]) if data.get("to_org_id") else None
    tr = await TransferRequest.file(
        await ctx.person(),
        from_org,
        to_org=to_org,
        to_text=data.get("to_text", ""),
        reason=ctx.answer,
        reply_target=ctx.inbound.reply_target,
        chat=ctx.inbound.chat_key,
        now=ctx.now(),
    )
    notify(ctx, await officer_targets(from_org), f"tr:{tr.id}:new", kind="tr_new", tr=tr)
    return say(ctx, "checkin_done", action="transfer_filed", tr=tr)


async def decide(ctx: Ctx, *, approve: bool) -> Reply:
    tr = await TransferRequest.by_number(ctx.args[0])
    note = ctx.args[1] if len(ctx.args) > 1 else ""
    officer, chat, now = await ctx.person(), ctx.inbound.chat_key, ctx.now()
    if approve:
        await tr.approve(officer, ctx.caller, note, chat=chat, now=now)
    else:
        await tr.reject(note, officer, ctx.caller, chat=chat, now=now)
    targets = [tr.reply_target, *(await person_targets(tr.person_id))]
    if approve and tr.to_org is not None:
        targets += await officer_targets(tr.to_org)
    key = f"tr:{tr.id}:{tr.status}"
    notify(ctx, list(dict.fromkeys(targets)), key, kind="tr_decided", tr=tr)
    return say(ctx, "checkin_done", action="transfer_decided", tr=tr)


@router.command(
    "批准转接",
    "approvetransfer",
    permission=OFFICER,
    args=[Arg("number"), Arg("note", required=False, rest=True)],
    mutates=True,
)
async def approve_transfer(ctx: Ctx) -> Reply:
    """转出组织的党务工作者批准接转，申请人会收到通知。"""
    return await decide(ctx, approve=True)


@router.command(
    "驳回转接",
    "rejecttransfer",
    permission=OFFICER,
    args=[Arg("number"), Arg("reason", rest=True)],
    mutates=True,
)
async def reject_transfer(ctx: Ctx) -> Reply:
    """转出组织的党务工作者驳回接转并说明原因。"""
    return await decide(ctx, approve=False)


@router.command("转接进度", "transferstatus", args=[Arg("number", required=False)])
async def transfer_status(ctx: Ctx) -> Reply:
    """查看接转申请的每一步（申请人，或转出、转入组织的党务工作者）。"""
    if ctx.args:
        tr = await TransferRequest.by_number(ctx.args[0])
    else:
        tr = await TransferRequest.latest_of(ctx.caller.person_id)
    tr.check_viewer(ctx.caller)
    return say(ctx, "checkin_transfer", tr=tr, events=await tr.history())
