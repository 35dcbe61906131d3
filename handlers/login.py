"""党务工作台登录：/登录 回一条一次性链接；/登录 123456 让显示这个码的登录页登录。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg, Router
from models.errors import DomainError
from models.web import LOGIN_MINUTES, LoginToken

router = Router("login")
router.refusals = "refused/login"  # its refusal texts (bot/refusals.py)


# Not `mutates`: a mutating command's reply is stored for retries, and this one carries a
# secret that must live only in the chat (the database keeps its hash).
@router.command(
    "登录", "login", permission=OFFICER, args=[Arg("code", required=False)], private_only=True
)
async def login(ctx: Ctx) -> Reply:
    """党务工作者登录工作台：私聊发 /登录 得到 10 分钟内有效、只能用一次的链接。"""
    from bot.web import public_url

    if not ctx.runtime.config.admin.enabled:
        raise DomainError("login_disabled")
    person = await ctx.person()
    if ctx.args:
        await LoginToken.claim_code(ctx.args[0], person.id, ctx.inbound.user_key, now=ctx.now())
        return ctx.render("login_code_done")
    raw = await LoginToken.issue_link(person.id, ctx.inbound.user_key, now=ctx.now())
    url = f"{public_url(ctx.runtime.config)}/admin/login?token={raw}"
    return ctx.render("login_link", url=url, minutes=LOGIN_MINUTES)
