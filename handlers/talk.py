"""说人话：私聊里的大白话（bot/intents.py 认出想办的事），以及“回复 1”之后接着办。"""

from __future__ import annotations

from bot.context import Ctx
from bot.guess import Offer, heard, start_offer
from bot.inbound import Reply
from bot.intake import IntakeQuestion
from bot.intents import Found, matcher_for
from bot.menu import short_menu
from bot.registry import OFFICER, Arg, Router
from bot.text import fold_width, strip_mentions, trim_trailing
from models.people import Organization

router = Router("talk")


def answer_of(ctx: Ctx, yes: str = "yes") -> str:
    """'yes', 'no' or '' (something else: a new message) for a "回复 1" question."""
    words = ctx.runtime.templates.vocabulary("talk")["confirm"]
    said = trim_trailing(fold_width(ctx.rest).strip())
    if said in words[yes]:
        return "yes"
    if said in words["no"]:
        return "no"
    return ""


def small_talk(ctx: Ctx) -> str:
    """'greeting' or 'thanks' when the whole message is only that, else ''."""
    words = ctx.runtime.templates.vocabulary("talk").get("small_talk", {})
    said = trim_trailing(strip_mentions(fold_width(ctx.inbound.text)).strip()).lower()
    # The words as the message is read: "好的，谢谢" is typed with a full-width comma.
    return next((k for k, listed in words.items() if said in map(fold_width, listed)), "")


@router.step(Offer.confirm)
async def confirm_offer(ctx: Ctx) -> list[Reply]:
    """回复 1：办提议的事；回复“不用”：不办；回复别的：当作一条新消息。"""
    name, rest = ctx.dialog.data.get("name", ""), ctx.dialog.data.get("rest", "")
    await ctx.dialog.finish()
    answer = answer_of(ctx)
    if answer == "yes" and name:
        return await ctx.runtime.dispatcher.run_inline(ctx, name, rest)
    if answer == "no":
        return [ctx.render("cancelled", had_dialog=True)]
    return await ctx.runtime.dispatcher.run_inline(ctx, None)


@router.on_event("plain", mutates=True)
async def plain_words(ctx: Ctx) -> list[Reply] | Reply:
    """私聊（或群里 @我）不是命令的话：认出想办的事，查询类直接答，办事类问一句
    “回复 1”；认不出就给短菜单。"""
    kind = small_talk(ctx)
    if kind:
        return ctx.render("small_talk", kind=kind, menu=short_menu(ctx))
    found = matcher_for(ctx.runtime.templates).detect(ctx.inbound.text)
    if found is None:
        return ctx.render("plain_hint", menu=short_menu(ctx))
    return await act_on(ctx, found)


async def act_on(ctx: Ctx, found: Found) -> list[Reply] | Reply:
    intent = found.intent
    if intent.name == "checkin" and not ctx.caller.has_role("member"):
        # Not (yet) a confirmed member: registering comes before checking in.
        register = [i for i in matcher_for(ctx.runtime.templates).intents if i.name == "register"]
        intent = register[0] if register else intent
    registry = ctx.runtime.registry
    cmd = registry.find(intent.command)
    if cmd is None or not cmd.permission.check(ctx.caller, ctx.org):
        return ctx.render("plain_hint", menu=short_menu(ctx))
    if intent.action == "run":  # read-only, or (/我的社区) read-only without arguments
        return await ctx.runtime.dispatcher.run_inline(ctx, cmd.name, "")
    # A request is filed with the words as they were said.
    rest = ctx.inbound.text.strip() if intent.name == "request" else ""
    await start_offer(ctx, cmd, rest)
    return ctx.render("offer", heard=heard(ctx), prompt=intent.prompt, command=cmd, rest=rest)


@router.command("我的社区", "mycommunity", args=[Arg("orgcode", required=False)], mutates=True)
async def my_community(ctx: Ctx) -> Reply:
    """我属于哪个社区（私聊时 /活动、/公开、/诉求 默认用它）；`/我的社区 组织代码` 改。"""
    communities = ctx.runtime.communities
    if ctx.args:
        org = await Organization.by_code(ctx.args[0])
        await communities.choose(ctx.inbound.user_key, org)
        return ctx.render("my_community", home=org, changed=True)
    home = await communities.of(ctx.inbound.user_key)
    return ctx.render("my_community", home=home, changed=False)


@router.step(IntakeQuestion.confirm)
async def confirm_intake(ctx: Ctx) -> list[Reply]:
    """群里被问“需要登记为诉求吗？”的本人回复 1：按他原来的话提交诉求。"""
    text = ctx.dialog.data.get("text", "")
    await ctx.dialog.finish()
    answer = answer_of(ctx, "group_yes")
    if answer == "yes" and text:
        return await ctx.runtime.dispatcher.run_inline(ctx, "诉求", text)
    if answer == "no":
        return []
    return await ctx.runtime.dispatcher.run_inline(ctx, None)


@router.command(
    "设置",
    "settings",
    permission=OFFICER,
    args=[Arg("item"), Arg("value")],
    mutates=True,
    group_only=True,
)
async def settings(ctx: Ctx) -> Reply:
    """本群的开关（党务工作者）：`/设置 自动受理 开|关`——群里像诉求的话问作者要不要登记。"""
    words = ctx.runtime.templates.vocabulary("talk")["settings"]
    item, value = (fold_width(a) for a in ctx.args)
    if item not in words["auto_intake"] or value not in words["on"] + words["off"]:
        return ctx.render("settings", invalid=True, on=False)
    on = value in words["on"]
    await ctx.runtime.intake.switch(ctx.inbound.chat_key, on, ctx.runtime.clock.now())
    return ctx.render("settings", invalid=False, on=on)
