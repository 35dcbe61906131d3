"""提诉求：在已绑定组织的群里 `/诉求 内容` 直接提交；私聊时先问所在社区（名称或代码），
`/诉求` 一步步问。"""

from __future__ import annotations

import re
from datetime import datetime

from bot.community import home_org
from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.registry import Arg
from handlers.requests.asking import attach_sent_image
from handlers.requests.common import keywords, limits, router, service
from models.errors import DomainError
from models.org_names import org_from_answer
from models.people import Organization, officer_targets
from models.requests import CATEGORY_HOURS, ServiceRequest, guess_category

PHONE = re.compile(r"\d[\d-]{6,}\d")


def read_category(ctx: Ctx, answer: str) -> str | None:
    """A category by its number in the list or its name; None when neither."""
    names = list(CATEGORY_HOURS)
    by_label = {v: k for k, v in service.labels(ctx).get("category", {}).items()}
    if answer.isdigit() and 1 <= int(answer) <= len(names):
        return names[int(answer) - 1]
    return by_label.get(answer)


def read_extra(ctx: Ctx, answer: str) -> str:
    """Place and phone in one line; a skip word (无) is nothing."""
    return "" if answer in service.labels(ctx).get("skip", []) else answer


class Request(Dialog, key="request", ask="request_ask"):
    """/诉求 without content: (the organisation in private chats), category, content, extra."""

    org = Step(parse=lambda ctx, answer: org_from_answer(answer, ("community", "grid")))
    category = Step(parse=read_category)
    content = Step(parse=lambda ctx, answer: ServiceRequest.valid_content(answer))
    extra = Step(parse=read_extra)


def ask_category(ctx: Ctx, *, invalid: bool = False) -> Reply:
    return ctx.dialog.question(
        Request.category,
        invalid=invalid,
        categories=list(CATEGORY_HOURS),
        labels=service.labels(ctx),
    )


@router.command(
    "诉求", "提诉求", "request", args=[Arg("content", required=False, rest=True)], mutates=True
)
async def request(ctx: Ctx) -> Reply:
    """提诉求：在已绑定组织的群里 `/诉求 内容` 直接提交；私聊时先问所在社区（名称或代码）。

    `/诉求` alone asks step by step: (org code in private chats), category, content,
    place/contact.
    """
    content = ctx.rest.strip()
    if ctx.inbound.is_group and ctx.org is None:
        raise DomainError("request_group_unbound")
    org = await home_org(ctx)  # in private: the community the asker belongs to
    if org is None:
        await ctx.dialog.start(Request.org, content=content)
        return ctx.dialog.question(Request.org)
    if content:
        return await file_and_say(ctx, org.id, content, "", guess_category(content, keywords(ctx)))
    await ctx.dialog.start(Request.category, org_id=org.id)
    return ask_category(ctx)


@router.step(Request.org)
async def request_org(ctx: Ctx) -> Reply:
    org: Organization = ctx.answer
    ctx.dialog.data["org_id"] = org.id
    content = ctx.dialog.data.get("content", "")
    if content:
        await ctx.dialog.finish()
        return await file_and_say(ctx, org.id, content, "", guess_category(content, keywords(ctx)))
    await ctx.dialog.goto(Request.category)
    return ask_category(ctx)


@router.step(Request.category)
async def request_category(ctx: Ctx) -> Reply:
    if ctx.answer is None:
        return ask_category(ctx, invalid=True)
    ctx.dialog.data["category"] = ctx.answer
    return await ctx.dialog.ask(Request.content)


@router.step(Request.content)
async def request_content(ctx: Ctx) -> Reply:
    ctx.dialog.data["content"] = ctx.answer
    return await ctx.dialog.ask(Request.extra)


@router.step(Request.extra)
async def request_extra(ctx: Ctx) -> Reply:
    data = ctx.dialog.data
    await ctx.dialog.finish()
    return await file_and_say(ctx, data["org_id"], data["content"], ctx.answer, data["category"])


async def file_and_say(ctx: Ctx, org_id: int, content: str, extra: str, category: str) -> Reply:
    org = await Organization.get(id=org_id)
    phone = PHONE.search(extra)
    contact = phone.group(0) if phone else ""
    place = PHONE.sub("", extra).strip(" ,，;；")
    req = await file_request(ctx, org, content, category, place=place, contact=contact)
    return service.say(ctx, "request_filed", req=req, org_name=org.name)


@router.provide("file_request")
async def file_request(
    ctx: Ctx,
    org: Organization,
    content: str,
    category: str | None = None,
    *,
    place: str = "",
    contact: str = "",
    now: datetime | None = None,
) -> ServiceRequest:
    """File a request as the caller, from this chat, and tell the organisation's officers
    once it commits. Offered to other services as ``file_request`` (/走访's "转为诉求":
    ``ctx.runtime.registry.provided("file_request")``); no category: guessed from the
    words of [request_keywords]."""
    if category is None:
        category = guess_category(content, keywords(ctx))
    req = await ServiceRequest.file(
        org,
        await ctx.person(),
        content,
        hours=limits(ctx),
        category=category,
        place=place,
        contact=contact,
        reply_target=ctx.inbound.reply_target,
        chat=ctx.inbound.chat_key,
        now=now or ctx.now(),
    )
    service.notify(
        ctx,
        await officer_targets(org),
        "request_notice_new",
        f"req:{req.number}:new",
        req=req,
    )
    await attach_sent_image(ctx, req, "filed")
    return req
