"""提议而不替人做主：猜到的命令、语音说出的办事、听懂的大白话，都先问“回复 1”。

An offer never runs a command that changes state: it is a dialog (bot/dialogs.py)
waiting for the person's "1", which handlers/talk.py turns into the command. Spoken
words are echoed first ("我听到的是：…"), since speech recognition mishears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from models.errors import DomainError

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.registry import Command
    from bot.routing import _Answer, _Plan


class Offer(Dialog, key="offer"):
    """“回复 1”：提议的命令等本人确认（handlers/talk.py 接着办）。"""

    confirm = Step()


def heard(ctx: Ctx) -> str:
    """What speech recognition made of a voice message ("" for typed text)."""
    return ctx.inbound.text.strip() if ctx.inbound.extra.get("recognition") else ""


async def start_offer(ctx: Ctx, command: Command, rest: str) -> None:
    await ctx.dialog.start(Offer.confirm, name=command.name, rest=rest)


async def offer_command(ctx: Ctx, *, word: str, command: Command, rest: str) -> Reply:
    """An unknown command word in private: suggest the nearest command, wait for "1"."""
    await start_offer(ctx, command, rest)
    return ctx.render("unknown_command", word=word, guess=command, rest=rest, offer=True)


async def offer_spoken(ctx: Ctx, *, command: Command, rest: str) -> Reply:
    """A command that changes state, said by voice: echo it, wait for "1"."""
    await start_offer(ctx, command, rest)
    return ctx.render("offer", heard=heard(ctx), prompt="", command=command, rest=rest)


def with_note(plan: _Plan | _Answer, note: str) -> _Plan | _Answer:
    """The dispatcher's plan or answer, with `note` as its first line ("已按 /活动 处理")."""
    from bot.routing import as_replies

    def first(replies: list[Reply]) -> list[Reply]:
        if not replies:
            return [Reply(note)]
        head = replies[0]
        return [Reply(f"{note}\n{head.text}", head.at_sender), *replies[1:]]

    if not hasattr(plan, "func"):  # an answer already (a refusal before running)
        plan.replies = first(plan.replies)
        return plan
    func = plan.func

    async def noted(ctx: Ctx) -> list[Reply]:  # read-only commands only: nothing to undo
        try:
            return first(as_replies(await func(ctx)))
        except DomainError as err:
            text = ctx.refusal(err)
            return first([Reply(text, at_sender=ctx.inbound.is_group)])

    plan.func = noted
    return plan
