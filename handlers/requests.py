"""订单式服务：提诉求、接单、转单、回单、退回、评价、催办、工单列表与党务公开。

The rules live on `models.requests.ServiceRequest`; this module only finds the
request, checks who is asking, calls the model and says what happened.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.community import home_org
from bot.context import Ctx
from bot.inbound import Inbound, Reply
from bot.outbound import Push
from bot.registry import EVERYONE, OFFICER, Arg, Router
from bot.targets import chat_target
from models.errors import DomainError
from models.paging import breathe, in_pages
from models.people import Organization, officer_targets, officer_targets_by_org, person_targets
from models.request_followup import RUNNING_STATUSES, category_limits
from models.requests import (
    CATEGORY_HOURS,
    REMINDER_LEAD_HOURS,
    ServiceRequest,
    guess_category,
    local,
    monthly_figures,
    utcnow,
)
from models.requests_config import RequestsConfig
from models.workdays import remind_from

router = Router("requests")
router.section("requests", RequestsConfig)  # [requests] in the config (bot/config.py)
router.refusals = "refused/requests"  # its refusal texts (bot/refusals.py)
PAGE = 10
PHONE = re.compile(r"\d[\d-]{6,}\d")


# -- helpers ------------------------------------------------------------------
def fmt(dt: datetime | None) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M") if dt else ""


def labels(ctx: Ctx) -> dict[str, Any]:
    return ctx.runtime.templates.commands.get("request_labels", {})


def say(ctx: Ctx, template: str, **variables: Any) -> Reply:
    return ctx.render(template, labels=labels(ctx), fmt=fmt, now=utcnow(), **variables)


def reply_target(inb: Inbound) -> str:
    return chat_target(inb.platform, inb.chat_id) if inb.is_group else inb.user_key


# The old name of models.people.officer_targets (officer notices only).
org_targets = officer_targets


async def notify(ctx: Ctx, targets: list[str], template: str, key: str, **variables: Any) -> None:
    """Push a notice to each target once the command commits (Ctx.push_after_commit)."""
    ctx.push_after_commit(
        targets,
        lambda: ctx.runtime.templates.render(template, labels=labels(ctx), fmt=fmt, **variables),
        purpose="request",
        key=key,
    )


async def detail(ctx: Ctx, req: ServiceRequest, *, officer: bool) -> Reply:
    """One request with its history and 附图 (officers also see the contact phone)."""
    return say(
        ctx,
        "request_detail",
        req=req,
        events=await req.history(),
        attachments=await req.attachments(),
        officer=officer,
    )


async def filed_in_group(req: ServiceRequest) -> bool:
    """Whether the requester's notices go to a group (not one of their own chats): a
    group hears that the request moved, never what the officers wrote."""
    return req.reply_target not in await person_targets(req.requester_id)


async def officer_request(ctx: Ctx, number: str) -> ServiceRequest:
    req = await ServiceRequest.by_number(number)
    req.check_officer(ctx.caller)
    return req


async def own_request(ctx: Ctx, number: str) -> ServiceRequest:
    req = await ServiceRequest.by_number(number)
    req.check_requester(ctx.caller.person_id)
    return req


def category_keywords(ctx: Ctx) -> dict[str, list[str]]:
    return ctx.runtime.templates.commands.get("request_keywords", {})


# -- filing (提诉求) ---------------------------------------------------------------
@router.command(
    "诉求", "提诉求", "request", args=[Arg("content", required=False, rest=True)], mutates=True
)
async def request(ctx: Ctx) -> Reply:
    """提诉求：在已绑定组织的群里 `/诉求 内容` 直接提交；私聊时先问社区代码。

    `/诉求` alone asks step by step: (org code in private chats), category, content,
    place/contact.
    """
    content = ctx.rest.strip()
    if ctx.inbound.is_group and ctx.org is None:
        raise DomainError("request_group_unbound")
    org = await home_org(ctx)  # in private: the community the asker belongs to
    if org is None:
        await ctx.dialog.start("request", "org", content=content)
        return say(ctx, "request_ask_org")
    if content:
        return await _file(
            ctx, org.id, content, "", guess_category(content, category_keywords(ctx))
        )
    await ctx.dialog.start("request", "category", org_id=org.id)
    return say(ctx, "request_ask_category", categories=list(CATEGORY_HOURS))


@router.step("request", "org")
async def request_org(ctx: Ctx) -> Reply:
    code = ctx.rest.strip().upper()
    org = await Organization.filter(code=code).first()
    if org is None:
        return say(ctx, "request_ask_org", unknown=code)
    ctx.dialog.data["org_id"] = org.id
    content = ctx.dialog.data.get("content", "")
    if content:
        await ctx.dialog.finish()
        return await _file(
            ctx, org.id, content, "", guess_category(content, category_keywords(ctx))
        )
    await ctx.dialog.goto("request", "category")
    return say(ctx, "request_ask_category", categories=list(CATEGORY_HOURS))


@router.step("request", "category")
async def request_category(ctx: Ctx) -> Reply:
    answer = ctx.rest.strip()
    names = list(CATEGORY_HOURS)
    by_label = {v: k for k, v in labels(ctx).get("category", {}).items()}
    if answer.isdigit() and 1 <= int(answer) <= len(names):
        category = names[int(answer) - 1]
    elif answer in by_label:
        category = by_label[answer]
    else:
        return say(ctx, "request_ask_category", categories=names, invalid=True)
    ctx.dialog.data["category"] = category
    await ctx.dialog.goto("request", "content")
    return say(ctx, "request_ask_content")


@router.step("request", "content")
async def request_content(ctx: Ctx) -> Reply:
    content = ctx.rest.strip()
    if not 1 <= len(content) <= 1000:
        return say(ctx, "request_ask_content", invalid=True)
    ctx.dialog.data["content"] = content
    await ctx.dialog.goto("request", "extra")
    return say(ctx, "request_ask_extra")


@router.step("request", "extra")
async def request_extra(ctx: Ctx) -> Reply:
    extra = ctx.rest.strip()
    if extra in labels(ctx).get("skip", []):
        extra = ""
    data = ctx.dialog.data
    await ctx.dialog.finish()
    return await _file(ctx, data["org_id"], data["content"], extra, data["category"])


async def _file(ctx: Ctx, org_id: int, content: str, extra: str, category: str) -> Reply:
    org = await Organization.get(id=org_id)
    phone = PHONE.search(extra)
    contact = phone.group(0) if phone else ""
    place = PHONE.sub("", extra).strip(" ,，;；")
    req = await file_request(ctx, org, content, category, place=place, contact=contact)
    return say(ctx, "request_filed", req=req, org_name=org.name)


async def file_request(
    ctx: Ctx,
    org: Organization,
    content: str,
    category: str,
    *,
    place: str = "",
    contact: str = "",
    now: datetime | None = None,
) -> ServiceRequest:
    """File a request as the caller, from this chat, and tell the organisation's officers
    once it commits (also used by /走访's "转为诉求")."""
    conf = ctx.runtime.config.requests
    req = await ServiceRequest.file(
        org,
        await ctx.person(),
        content,
        hours=category_limits(
            CATEGORY_HOURS, conf.hours, conf.limits, labels(ctx).get("category", {})
        ),
        category=category,
        place=place,
        contact=contact,
        reply_target=reply_target(ctx.inbound),
        chat=ctx.inbound.chat_key,
        now=now,
    )
    await notify(
        ctx, await officer_targets(org), "request_notice_new", f"req:{req.number}:new", req=req
    )
    from handlers.request_followup import attach_sent_image  # (it imports this module)

    await attach_sent_image(ctx, req, "filed")
    return req


# -- officers (做单、转单、回单、退回) ------------------------------------------------------
@router.command("接单", "accept", permission=OFFICER, args=[Arg("number")], mutates=True)
async def accept(ctx: Ctx) -> Reply:
    """接单办理（做单）：这张工单由我来办。"""
    req = await officer_request(ctx, ctx.args[0])
    await req.accept(await ctx.person(), chat=ctx.inbound.chat_key)
    await notify(
        ctx,
        [req.reply_target],
        "request_notice_requester",
        f"req:{req.number}:accept:{req.handler_id}",
        req=req,
        action="accept",
        in_group=await filed_in_group(req),
    )
    return say(ctx, "request_done", req=req, action="accept")


@router.command(
    "转单",
    "forward",
    permission=OFFICER,
    args=[Arg("number"), Arg("orgcode"), Arg("note", rest=True)],
    mutates=True,
)
async def forward(ctx: Ctx) -> Reply:
    """转单：交给街道科室或社会组织办理，对方绑定的群会收到通知。"""
    req = await officer_request(ctx, ctx.args[0])
    code = ctx.args[1].upper()
    to_org = await Organization.filter(code=code).first()
    if to_org is None:
        raise DomainError("unknown_org", org_code=code)
    note = ctx.args[2] if len(ctx.args) > 2 else ""
    limit = ctx.runtime.config.requests.max_forwards
    await req.forward(
        to_org, note, await ctx.person(), chat=ctx.inbound.chat_key, max_forwards=limit
    )
    n = await req.events.filter(action="forward").count()
    targets = await officer_targets(to_org)
    await notify(
        ctx, targets, "request_notice_forwarded", f"req:{req.number}:fwd{n}", req=req, note=note
    )
    if req.forwarded_back:  # ping-pong between units: the parent organisation hears of it
        from handlers.request_followup import parent_targets  # (it imports this module)

        await notify(
            ctx,
            await parent_targets(req.org),
            "request_notice_followup",
            f"req:{req.number}:back{n}",
            req=req,
            action="forward_back",
            note=note,
            to_org=to_org,
        )
    return say(ctx, "request_done", req=req, action="forward", to_org=to_org, notified=len(targets))


@router.command(
    "回单",
    "close",
    permission=OFFICER,
    args=[Arg("number"), Arg("result", rest=True)],
    mutates=True,
)
async def close(ctx: Ctx) -> Reply:
    """回单：写明办理结果，诉求人会在提交诉求的地方收到通知。"""
    from handlers.request_followup import attach_sent_image, start_return_visit  # (cycle)

    req = await officer_request(ctx, ctx.args[0])
    visit_hours = ctx.runtime.config.requests.visit_hours
    await req.close(
        ctx.args[1], await ctx.person(), chat=ctx.inbound.chat_key, visit_hours=visit_hours
    )
    await start_return_visit(ctx, req)
    await attach_sent_image(ctx, req, "result")
    await notify(
        ctx,
        [req.reply_target],
        "request_notice_requester",
        f"req:{req.number}:close:{await req.events.filter(action='close').count()}",
        req=req,
        action="close",
        in_group=await filed_in_group(req),
    )
    return say(ctx, "request_done", req=req, action="close")


@router.command(
    "退回",
    "reject",
    permission=OFFICER,
    args=[Arg("number"), Arg("reason", rest=True)],
    mutates=True,
)
async def reject(ctx: Ctx) -> Reply:
    """退回：不予受理或无法办理，写明原因，诉求人会收到通知。"""
    req = await officer_request(ctx, ctx.args[0])
    await req.reject(ctx.args[1], await ctx.person(), chat=ctx.inbound.chat_key)
    await notify(
        ctx,
        [req.reply_target],
        "request_notice_requester",
        f"req:{req.number}:reject",
        req=req,
        action="reject",
        in_group=await filed_in_group(req),
    )
    return say(ctx, "request_done", req=req, action="reject")


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
        req = await officer_request(ctx, arg)
        return await detail(ctx, req, officer=True)
    page = max(int(arg), 1)
    orgs = [ctx.org] if ctx.org is not None else ctx.caller.officer_orgs()
    paths = None if ctx.org is None and ctx.caller.is_admin else [o.path for o in orgs]
    me = ctx.caller.person_id
    shown, total, overdue, mine = await ServiceRequest.queue(paths, me, page, PAGE, utcnow())
    pages = max((total + PAGE - 1) // PAGE, 1)
    return say(
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


# -- requesters (进度、我的诉求、评价、催办) ------------------------------------------------
@router.command("进度", "progress", args=[Arg("number")])
async def progress(ctx: Ctx) -> Reply:
    """查看一张诉求的办理进度（提出人或负责的党务工作者）。"""
    req = await ServiceRequest.by_number(ctx.args[0])
    if req.requester_id != ctx.caller.person_id:
        req.check_officer(ctx.caller)
    return await detail(ctx, req, officer=False)


@router.command("我的诉求", "myrequests", args=[Arg("page", required=False)])
async def my_requests(ctx: Ctx) -> Reply:
    """我提过的诉求，最近的在前，每页 10 条。"""
    page = int(ctx.args[0]) if ctx.args and ctx.args[0].isdigit() else 1
    me = ctx.caller.person_id
    rows = []
    total = 0
    if me is not None:
        query = ServiceRequest.filter(requester_id=me)
        total = await query.count()
        rows = await query.order_by("-created_at", "-id").offset((page - 1) * PAGE).limit(PAGE)
    return say(ctx, "request_mine", rows=rows, total=total, page=max(page, 1))


@router.command(
    "评价",
    "rate",
    args=[Arg("number"), Arg("score"), Arg("comment", required=False, rest=True)],
    mutates=True,
)
async def rate(ctx: Ctx) -> Reply:
    """满意度评价：1–5 分，可附意见；2 分及以下会提醒组织的党务工作者。"""
    req = await own_request(ctx, ctx.args[0])
    try:
        score = int(ctx.args[1])
    except ValueError:
        raise DomainError("request_bad_score", score=ctx.args[1]) from None
    comment = ctx.args[2] if len(ctx.args) > 2 else ""
    await req.rate(score, comment, await ctx.person(), chat=ctx.inbound.chat_key)
    if req.low_score:
        await notify(
            ctx,
            await officer_targets(req.org),
            "request_notice_low_score",
            f"req:{req.number}:low",
            req=req,
        )
    return say(ctx, "request_done", req=req, action="rate")


@router.command("催办", "urge", args=[Arg("number")], mutates=True)
async def urge(ctx: Ctx) -> Reply:
    """催办：每张诉求每天一次，提醒正在办理的组织。"""
    req = await own_request(ctx, ctx.args[0])
    await req.urge(await ctx.person(), chat=ctx.inbound.chat_key)
    holder = req.assignee_org if req.status == "forwarded" else req.org
    targets = await officer_targets(holder)
    day = local(req.last_urged_at or utcnow()).strftime("%y%m%d")
    await notify(ctx, targets, "request_notice_urge", f"req:{req.number}:urge:{day}", req=req)
    return say(ctx, "request_done", req=req, action="urge")


# -- public figures (党务公开) ---------------------------------------------------------
@router.command("公开", "stats", permission=EVERYONE, args=[Arg("orgcode", required=False)])
async def stats(ctx: Ctx) -> Reply:
    """本月诉求办理情况：受理、办结、按时办结率、平均用时、满意度、分类。"""
    if ctx.args:
        code = ctx.args[0].upper()
        org = await Organization.filter(code=code).first()
        if org is None:
            raise DomainError("unknown_org", org_code=code)
    elif (home := await home_org(ctx)) is not None:
        org = await Organization.get(id=home.id)
    elif ctx.caller.officer_orgs():
        org = await Organization.get(id=ctx.caller.officer_orgs()[0].id)
    else:
        raise DomainError("request_stats_need_org")
    figures = await monthly_figures(org)
    return say(ctx, "request_stats", target_org=org, f=figures)


# -- deadline reminders (办理时限提醒) ---------------------------------------------------
@router.every(lambda config: config.requests.reminder_interval_minutes * 60)
async def deadline_reminders(runtime: Any, now: datetime) -> list[Push]:
    """The scheduled run: the lead time comes from [requests] reminder_lead_hours."""
    return await deadline_pushes(
        runtime, now, lead_hours=runtime.config.requests.reminder_lead_hours
    )


async def deadline_pushes(
    runtime: Any, now: datetime, lead_hours: float = REMINDER_LEAD_HOURS
) -> list[Push]:
    """Reminders to the responsible org's bound groups of open requests due soon or overdue.

    Each (request, kind, target) has its own key, so it is delivered once however
    often the scheduler asks (and across restarts).
    """
    # The lead is working time for 工作日 limits (that horizon is never before the wall-clock one).
    soon = {w: remind_from(now, lead_hours, workdays=w) for w in (False, True)}
    rows = await in_pages(  # thousands at district scale: a page at a time
        ServiceRequest.filter(status__in=RUNNING_STATUSES, due_at__lte=soon[True]).select_related(
            "org", "assignee_org"
        )
    )
    pushes: list[Push] = []
    templates = runtime.templates
    lab = templates.commands.get("request_labels", {})
    holders = [r.assignee_org if r.status == "forwarded" else r.org for r in rows]
    groups = await officer_targets_by_org(
        [h.id for h in holders if h is not None]
        + [r.org.parent_id for r in rows if r.org.parent_id]
    )
    for i, req in enumerate(rows):
        await breathe(i)
        if req.due_at > soon[req.workdays]:
            continue
        kind = "overdue" if req.due_at <= now else "due_soon"
        holder = req.assignee_org if req.status == "forwarded" else req.org
        text = templates.render("request_notice_due", req=req, kind=kind, labels=lab, fmt=fmt)
        for target in groups.get(holder.id, []) if holder else []:
            pushes.append(Push(target, text, f"req:{req.number}:{kind}:{target}", "request_due"))
        if kind == "overdue":
            parent = groups.get(req.org.parent_id, []) if req.org.parent_id else []
            pushes += await escalation_pushes(runtime, req, now, parent)
    return pushes


async def escalation_pushes(
    runtime: Any, req: ServiceRequest, now: datetime, targets: list[str] | None = None
) -> list[Push]:
    """超期督办: an overdue request goes once to the parent organisation (recorded in the
    history the first time; the delivery key makes each target hear it once). `targets`:
    the parent's groups when the caller looked them up for many requests at once."""
    from handlers.request_followup import parent_targets  # (it imports this module)

    if req.escalated_at is None:  # recorded already: no UPDATE per request and tick
        await req.escalate_once(now)
    lab = runtime.templates.commands.get("request_labels", {})
    text = runtime.templates.render(
        "request_notice_followup", req=req, action="escalate", labels=lab, fmt=fmt
    )
    return [
        Push(target, text, f"req:{req.number}:escalate:{target}", "request_escalate")
        for target in (targets if targets is not None else await parent_targets(req.org))
    ]
