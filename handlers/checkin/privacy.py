"""隐私：/我的信息 看系统里记着我的什么；/删除我的信息（先确认一次）。"""

from __future__ import annotations

from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.text import fold_width
from handlers.checkin.common import labels, router, say
from models.checkin import CheckIn, MemberRegistration, erase_person, profile
from models.people import Person


def read_erase(ctx: Ctx, answer: str) -> bool:
    """Only the erase words (确认删除) erase; any other answer keeps everything."""
    return fold_width(answer).strip() in labels(ctx).get("erase_words", [])


class ForgetMe(Dialog, key="forgetme", ask="checkin_ask"):
    """删除我的信息：问一次，确认了才删。"""

    confirm = Step(parse=read_erase)


@router.command("我的信息", "myinfo", private_only=True)
async def my_info(ctx: Ctx) -> Reply:
    """看看系统里记着我的哪些信息。"""
    person = await profile(ctx.caller.person_id)
    regs: list[MemberRegistration] = []
    rows: list[CheckIn] = []
    if person is not None:
        # No contact written here: the dispatcher records the day's first message of
        # anyone it knows (bot/seen.py), this one included.
        regs = await MemberRegistration.recent_of(person.id)
        rows = await CheckIn.recent_of(person.id)
    return say(ctx, "checkin_myinfo", person=person, regs=regs, rows=rows)


@router.command("删除我的信息", "forgetme", mutates=True, private_only=True)
async def forget_me(ctx: Ctx) -> Reply:
    """删除我的个人信息（姓名、电话等）；先确认一次。"""
    await ctx.dialog.start(ForgetMe.confirm)
    return ctx.dialog.question(ForgetMe.confirm)


@router.step(ForgetMe.confirm)
async def forget_me_confirm(ctx: Ctx) -> Reply:
    await ctx.dialog.finish()
    if not ctx.answer:
        return say(ctx, "checkin_done", action="kept")
    if ctx.caller.person_id is not None:
        await erase_person(await Person.get(id=ctx.caller.person_id))
        await ctx.refresh_caller()
    return say(ctx, "checkin_done", action="erased")
