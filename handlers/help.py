"""帮助、我是谁、取消对话，以及非命令消息和平台事件的默认回答。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.menu import sections_for, short_menu
from bot.pager import with_note
from bot.registry import Arg, Router
from bot.text import trim_trailing
from models.replies import ReplyPages

router = Router("help")


@router.command("帮助", "菜单", "menu", "help", args=[Arg("command", required=False)])
async def help_command(ctx: Ctx) -> Reply:
    """短菜单：能用的服务编上号；`/帮助 编号` 看这项服务的命令和例子，`/帮助 全部`
    列出全部命令，`/帮助 命令` 看一条的详细用法。"""
    templates = ctx.runtime.templates
    menu = ctx.runtime.dispatcher.menu_for(ctx.caller, ctx.org, ctx.inbound.is_group)
    word = trim_trailing(ctx.args[0].lstrip("/／、").lower()) if ctx.args else ""
    # Each text depends only on the menu, the org and the chat kind: rendered once.
    base = (tuple(c.key for c in menu), ctx.org, ctx.inbound.is_group)
    if word in templates.vocabulary("menu")["words"]["all"]:
        items = [(c, templates.command_info(c.key)) for c in menu]
        text = templates.memo(
            ("help", *base),
            lambda: templates.render("help", items=items, org=ctx.org, is_group=base[2]),
        )
        return Reply(text, at_sender=base[2])
    services = sections_for(templates, menu) if word.isdigit() else []
    if word.isdigit() and 1 <= int(word) <= len(services):
        index = int(word) - 1
        text = templates.memo(
            ("help_service", index, *base),
            lambda: templates.render("help_service", service=services[index], is_group=base[2]),
        )
        return Reply(text, at_sender=base[2])
    if word and not word.isdigit():
        cmd = ctx.runtime.registry.find(word)
        if cmd is None:
            guess = ctx.runtime.registry.closest(word, ctx.caller, ctx.org)
            return ctx.render("unknown_command", word=word, guess=guess, offer=False)
        allowed = cmd.permission.check(ctx.caller, ctx.org)
        info = templates.command_info(cmd.key)
        return ctx.render("help_one", command=cmd, info=info, allowed=allowed)
    return Reply(short_menu(ctx, wrong_number=bool(word)), at_sender=base[2])


@router.command("更多", "下一页", "more", mutates=True, listed=False)
async def more(ctx: Ctx) -> Reply:
    """长回复的下一页（回复太长时分页发送）。"""
    page, number, total = await ReplyPages.next_page(
        ctx.inbound.user_key, ctx.inbound.chat_key, ctx.now()
    )
    if not page:
        return ctx.render("more_none")
    templates = ctx.runtime.templates
    return Reply(
        with_note(templates, page, number, total, ctx.inbound.is_group), ctx.inbound.is_group
    )


@router.command("我", "我是谁", "me")
async def me(ctx: Ctx) -> Reply:
    """显示机器人眼中的你：平台身份、角色、组织、所在群绑定的组织。"""
    return ctx.render("me", roles=ctx.caller.roles)


@router.command("取消", "cancel", mutates=True)
async def cancel(ctx: Ctx) -> Reply:
    """离开正在进行的多步对话。"""
    had = await ctx.runtime.dialogs.clear(ctx.inbound.user_key, ctx.inbound.chat_key)
    return ctx.render("cancelled", had_dialog=had)


@router.on_event("unsupported")
async def unsupported(ctx: Ctx) -> Reply:
    """图片、语音、位置、链接等暂不支持的消息：友好说明，而不是沉默。"""
    return ctx.render("unsupported", kind=ctx.inbound.kind)


@router.on_event("subscribe")
async def subscribe(ctx: Ctx) -> Reply:
    """关注公众号（含扫码关注）：欢迎语。"""
    return ctx.render("welcome", scene=ctx.inbound.extra.get("scene", ""))


@router.on_event("scan")
async def scan(ctx: Ctx) -> Reply:
    """已关注用户扫码。"""
    return ctx.render("welcome", scene=ctx.inbound.extra.get("scene", ""))


@router.on_event("unsubscribe")
async def unsubscribe(ctx: Ctx) -> None:
    """取消关注：无法再回复，什么也不说。"""
    return None


@router.on_event("location_report")
@router.on_event("templatesendjobfinish")
@router.on_event("masssendjobfinish")
async def silent_event(ctx: Ctx) -> None:
    """自动上报位置、群发/模板消息结果：平台自动发的事件，不回复。"""
    return None


@router.on_event("view")
async def view(ctx: Ctx) -> None:
    """点击菜单跳转链接：微信不接收回复。"""
    return None


@router.on_event("click")
async def click(ctx: Ctx) -> Reply:
    """菜单按钮的 key 不是命令名时：提示可用命令。"""
    return ctx.render("plain_hint", menu=short_menu(ctx))
