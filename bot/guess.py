"""猜命令：/报道 → “您是要 /报到 吗？回复 1 确认”。

A guess never runs a command that changes state: it is offered, and the person's
"1" (a dialog step, handlers/talk.py) runs it. Read-only sure matches are run by the
dispatcher directly, with a note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.inbound import Reply

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.registry import Command

GUESS_DIALOG = "guess"


async def offer_command(ctx: Ctx, *, word: str, command: Command, rest: str) -> Reply:
    """Private chat: suggest the nearest command and wait for "1"."""
    await ctx.dialog.start(GUESS_DIALOG, "confirm", name=command.name, rest=rest)
    return ctx.render("unknown_command", word=word, guess=command, rest=rest, offer=True)
