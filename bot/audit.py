"""审计：党务工作者做过的事，聊天里的（调度器在命令提交时记）和网页上的，一处写入。"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.identity import Caller, RoleView
from models.web import AuditEntry

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.registry import Command

# A command is an officer's action when a member may not use it.
_MEMBER = Caller("", "", "", roles=(RoleView("member", None),))


def is_officer_command(command: Command) -> bool:
    return not command.permission.check(_MEMBER, None)


async def record_command(ctx: Ctx) -> None:
    """Called by the dispatcher inside the command's transaction: both commit, or neither."""
    command = ctx.command
    if command is None or not is_officer_command(command):
        return
    inb = ctx.inbound
    via = str(inb.extra.get("via", "chat"))
    source = str(inb.extra.get("address", "")) if via == "web" else inb.chat_key
    await AuditEntry.record(
        actor_id=ctx.caller.person_id,
        actor_name=ctx.caller.name,
        via=via,
        source=source,
        action=command.key,
        detail=inb.text.strip(),
        now=ctx.now(),
    )


async def record_web(request: Any, officer: Any, action: str, detail: str) -> None:
    """A web action that is not a chat command (login, sessions, import), at the runtime's
    now, from the request's address."""
    from bot.web.common import address, runtime_of

    source = address(request)
    await AuditEntry.record(
        now=runtime_of(request).clock.now(),
        actor_id=officer.person_id,
        actor_name=officer.caller.name,
        via="web",
        source=source,
        action=action,
        detail=detail,
    )
