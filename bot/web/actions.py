"""网页上的操作就是聊天命令：以这位党务工作者的聊天身份、经同一个调度器执行。

So a button on the workbench checks the same permission, calls the same model
method, sends the same notices after the same commit, and is audited by the same
hook as the command typed in chat (`via=web`, with the browser's address). What the
bot would have answered in chat is shown on the next page.
"""

from __future__ import annotations

from aiohttp import web

from bot.inbound import Inbound
from bot.web.common import address, flash, officer_of, runtime_of


async def run_command(request: web.Request, text: str) -> str:
    officer = officer_of(request)
    platform, _, user_id = officer.session.user_key.partition(":")
    inbound = Inbound(
        platform=platform,
        user_id=user_id,
        chat_id=user_id,  # a private chat with the bot
        text=text,
        extra={"via": "web", "address": address(request)},
    )
    replies = await runtime_of(request).dispatcher.handle(inbound)
    return "\n".join(r.text for r in replies)


async def act(request: web.Request, text: str, back: str) -> web.Response:
    """Run the command, show its answer on the page we go back to (POST → redirect → GET)."""
    await flash(request, await run_command(request, text))
    raise web.HTTPFound(back)


def one_line(value: object, limit: int = 1000) -> str:
    """Free text from a form as the last argument of a command (spaces kept, no newlines)."""
    text = value if isinstance(value, str) else ""
    return " ".join(text.split())[:limit]


def token(value: object) -> str:
    """A single word of a command (a code or a number): anything else is dropped."""
    text = value.strip() if isinstance(value, str) else ""
    return text if text and not any(c.isspace() for c in text) else ""
