"""帮助、我是谁、取消对话，以及非命令消息和平台事件的默认回答。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import Arg, Router

router = Router("help")


@router.command("帮助", "菜单", "help", args=[Arg("command", required=False)])
async def help_command(ctx: Ctx) -> Reply:
    """列出可用命令；`/帮助 命令` 看一条的详细用法。"""
    dispatcher = ctx.runtime.dispatcher
    templates = ctx.runtime.templates
    if ctx.args:
        word = ctx.args[0].lstrip("/／、").lower()
        cmd = ctx.runtime.registry.find(word)
        if cmd is None:
            guess = ctx.runtime.registry.closest(word, ctx.caller, ctx.org)
            return ctx.render("unknown_command", word=word, guess=guess)
        allowed = cmd.permission.check(ctx.caller, ctx.org)
        info = templates.command_info(cmd.key)
        return ctx.render("help_one", command=cmd, info=info, allowed=allowed)
    menu = dispatcher.menu_for(ctx.caller, ctx.org, ctx.inbound.is_group)
    # The list depends only on these three, so it is rendered once per combination.
    key = ("help", tuple(c.key for c in menu), ctx.org, ctx.inbound.is_group)
    text = templates.memo(
        key,
        lambda: templates.render(
            "help",
            items=[(c, templates.command_info(c.key)) for c in menu],
            org=ctx.org,
            is_group=ctx.inbound.is_group,
        ),
    )
    return Reply(text, at_sender=ctx.inbound.is_group)


@router.command("我", "我是谁", "me")
async def me(ctx: Ctx) -> Reply:
    """显示机器人眼中的你：平台身份、角色、组织、所在群绑定的组织。"""
    return ctx.render("me", roles=ctx.caller.roles)


@router.command("取消", "cancel", mutates=True)
async def cancel(ctx: Ctx) -> Reply:
    """离开正在进行的多步对话。"""
    had = await ctx.runtime.dialogs.clear(ctx.inbound.user_key, ctx.inbound.chat_key)
    return ctx.render("cancelled", had_dialog=had)


@router.on_event("plain")
async def plain_words(ctx: Ctx) -> Reply:
    """私聊里不是命令的话：提示怎么用。"""
    return ctx.render("plain_hint")


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
    return ctx.render("plain_hint")
