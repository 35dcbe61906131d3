"""Questions the requests service asks the requester, answered by a plain message in the
chat where they filed the request: a dialog is started there for them (bot/dialogs.py),
so a numbered answer never mixes with another dialog's numbers. Also the image sent
with a command (附图)."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Ctx
from bot.dialogs import Dialog, Step
from handlers.requests.common import service
from models.errors import DomainError
from models.requests import ServiceRequest, visit_choice


def read_visit(ctx: Ctx, answer: str) -> int:
    """1 / 2 / 3 or 满意 / 基本满意 / 不满意; anything else asks again."""
    choice = visit_choice(answer, service.labels(ctx).get("visit", {}))
    if choice is None:
        raise DomainError("request_bad_visit", number=ctx.dialog.data.get("number", ""))
    return choice


class Supplement(Dialog, key="supplement"):
    """待补充: the requester's answer, typed where they filed the request."""

    answer = Step()


class Visit(Dialog, key="visit", ask="request_visit_ask", quiet=True):
    """回访 after 回单: 1 满意 2 基本满意 3 不满意, typed where they filed the request."""

    answer = Step(parse=read_visit)


async def start_requester_dialog(ctx: Ctx, req: ServiceRequest, step: Step, hours: float) -> None:
    """Let the requester answer with a plain message where they filed the request."""
    where = await req.filing_chat()
    if where is None:
        return
    user_key, chat_key = where
    now = ctx.now()
    busy = await ctx.runtime.dialogs.current(user_key, chat_key)
    if busy is not None and busy.expires_at > now and busy.dialog != step.dialog.key:
        return  # never cut into another conversation; the notice names the command too
    await ctx.runtime.dialogs.start(
        user_key,
        chat_key,
        step.dialog.key,
        step.name,
        {"number": req.number},
        expires_at=now + timedelta(hours=hours),
    )


async def end_requester_dialog(ctx: Ctx, req: ServiceRequest, dialog: type[Dialog]) -> None:
    """The requester answered (here or elsewhere): the question in the filing chat is over."""
    where = await req.filing_chat()
    if where is None:
        return
    state = await ctx.runtime.dialogs.current(*where)
    if state is not None and state.dialog == dialog.key and state.data.get("number") == req.number:
        await ctx.runtime.dialogs.clear(*where)


async def start_return_visit(ctx: Ctx, req: ServiceRequest) -> None:
    """After 回单: the requester is asked 1 满意 2 基本满意 3 不满意 (in the close notice)."""
    await start_requester_dialog(ctx, req, Visit.answer, ctx.runtime.config.requests.visit_hours)


def image_of(ctx: Ctx) -> tuple[str, str]:
    """(media id, URL) of the image the platform sent with this message, if any."""
    extra = ctx.inbound.extra
    return str(extra.get("media_id", "")), str(extra.get("pic_url") or extra.get("url") or "")


async def attach_sent_image(ctx: Ctx, req: ServiceRequest, kind: str) -> None:
    """An image in the same message as /回单 or /诉求 (where the platform allows it)."""
    media_id, url = image_of(ctx)
    if media_id or url:
        await req.attach(kind, media_id, url, await ctx.person(), now=ctx.now())
