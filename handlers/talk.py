"""说人话：猜到的命令等人回复 1 再办（bot/guess.py 提出，这里接着办）。"""

from __future__ import annotations

from bot.context import Ctx
from bot.guess import GUESS_DIALOG
from bot.inbound import Reply
from bot.registry import Router
from bot.text import fold_width, trim_trailing

router = Router("talk")


def answer_of(ctx: Ctx) -> str:
    """'yes', 'no' or '' (something else: a new message) for a "回复 1" question."""
    words = ctx.runtime.templates.vocabulary("talk")["confirm"]
    said = trim_trailing(fold_width(ctx.rest).strip())
    if said in words["yes"]:
        return "yes"
    if said in words["no"]:
        return "no"
    return ""


@router.step(GUESS_DIALOG, "confirm")
async def confirm_guess(ctx: Ctx) -> list[Reply]:
    """回复 1：按猜到的命令办；回复别的：当作一条新消息。"""
    name, rest = ctx.dialog.data.get("name", ""), ctx.dialog.data.get("rest", "")
    await ctx.dialog.finish()
    answer = answer_of(ctx)
    if answer == "yes" and name:
        return await ctx.runtime.dispatcher.run_inline(ctx, name, rest)
    if answer == "no":
        return [ctx.render("cancelled", had_dialog=True)]
    return await ctx.runtime.dispatcher.run_inline(ctx, None)
