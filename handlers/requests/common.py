"""The requests service object and what its commands share: the detail view, notices."""

from __future__ import annotations

from typing import Any

from bot.context import Ctx
from bot.inbound import Reply
from bot.service import Service
from models.requests import CATEGORY_HOURS, ServiceRequest, category_limits
from models.requests_config import RequestsConfig
from models.requests_export import request_rows
from models.workdays import Limit

service = Service(
    "requests", labels="request_labels", purpose="request", refusals="refused/requests"
)
router = service.router
router.section("requests", RequestsConfig)  # [requests] in the config (bot/config.py)
router.export("requests", dated=True, workbench=True)(request_rows)  # bot/exports.py
PAGE = 10


def keywords(ctx: Ctx) -> dict[str, list[str]]:
    """Category → the words that suggest it ([request_keywords])."""
    return ctx.runtime.templates.commands.get("request_keywords", {})  # type: ignore[no-any-return]


def limits(ctx: Ctx) -> dict[str, Limit]:
    """Category → time limit, with [requests] hours / limits from the config."""
    conf = ctx.runtime.config.requests
    names = service.labels(ctx).get("category", {})
    return category_limits(CATEGORY_HOURS, conf.hours, conf.limits, names)


async def detail(ctx: Ctx, req: ServiceRequest, *, officer: bool) -> Reply:
    """One request with its history and 附图 (officers also see the contact phone)."""
    return service.say(
        ctx,
        "request_detail",
        req=req,
        events=await req.history(),
        attachments=await req.attachments(),
        officer=officer,
    )


async def tell_requester(ctx: Ctx, req: ServiceRequest, action: str, key: str) -> None:
    """The requester hears, where they filed it, that an officer acted on it."""
    service.notify(
        ctx,
        [req.reply_target],
        "request_notice_requester",
        key,
        req=req,
        action=action,
        in_group=await req.filed_in_group(),
    )


def followup_notice(ctx: Ctx, targets: list[str], key: str, **variables: Any) -> None:
    service.notify(ctx, targets, "request_notice_followup", key, **variables)
