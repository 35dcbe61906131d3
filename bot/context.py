"""处理函数拿到的上下文：谁、在哪个会话、哪个组织、参数；以及回复的渲染。"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.dialogs import DialogControl
from bot.inbound import Inbound, Reply
from bot.text import fold_width, mask_private

if TYPE_CHECKING:
    from bot.identity import Caller, OrgView
    from bot.registry import Command
    from bot.runtime import Runtime
    from models.errors import DomainError
    from models.people import Organization, Person


@dataclass
class Ctx:
    runtime: Runtime
    inbound: Inbound
    caller: Caller
    # The organisation the chat is bound to (groups), else None.
    org: OrgView | None
    dialog: DialogControl
    command: Command | None = None
    args: list[str] = field(default_factory=list)
    # Free text after the command word, as typed.
    rest: str = ""
    # Work to run once the command's changes are committed (bot/dispatcher.py).
    pending: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    # A dialog step's answer as its parser read it (bot/dialogs.py).
    answer: Any = None
    # The service handling the message (its router's name): its refusal texts come first.
    service: str = ""

    def __post_init__(self) -> None:
        self.dialog.attach(self)

    def after_commit(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Run `work()` after the command's transaction commits, never if it rolls back.

        For notices to other people: a message that went out cannot be taken back,
        and an HTTP call inside the transaction would hold the database meanwhile.
        """
        self.pending.append(work)

    def push_after_commit(
        self,
        targets: list[str],
        render: Callable[[], str],
        *,
        purpose: str,
        key: str,
        mask: bool = True,
    ) -> None:
        """Send the text `render()` gives to each target once the command commits; the
        delivery key `key:target` makes each go once, even when the command is retried.
        Nothing is rendered when there is nobody to tell. Phone and ID-card numbers in
        it are masked (`mask=False` only for an answer to the asker's own question)."""
        outbound = self.runtime.outbound
        targets = [t for t in targets if t]
        if outbound is None or not targets:
            return
        text = render()  # now, while the command's objects are as it left them
        if mask:
            text = mask_private(text)

        async def send_all() -> None:
            for target in targets:
                dedup_key = f"{key}:{target}"[:191]
                await outbound.send(target, text, purpose=purpose, dedup_key=dedup_key)

        self.after_commit(send_all)

    def change_key(self, prefix: str) -> str:
        """A notice key unique to this change: the same when this message is retried (so
        the notice goes once), another for the next change, even within the same second."""
        inb = self.inbound
        return f"{prefix}:{inb.platform}:{inb.event_id or secrets.token_hex(8)}"

    def render(self, template: str, **variables: Any) -> Reply:
        text = self.runtime.templates.render(
            template, caller=self.caller, org=self.org, inbound=self.inbound, **variables
        )
        return Reply(text, at_sender=self.inbound.is_group)

    def now(self) -> datetime:
        """Now (aware UTC) on the runtime's clock: tests set it, nothing reads the wall."""
        return self.runtime.clock.now()

    def scope_paths(self) -> list[str]:
        """The organisations an officer acts for here: the bound group's, else all theirs."""
        return [self.org.path] if self.org is not None else self.caller.scope_paths()

    async def acting_org(self) -> Organization | None:
        """The organisation an officer acts for here: the bound group's, else the first
        they hold (None for an admin with none, or someone who holds none)."""
        from models.people import Organization

        if self.org is not None:
            return await Organization.get(id=self.org.id)
        orgs = self.caller.officer_orgs()
        return await Organization.get(id=orgs[0].id) if orgs else None

    def page(self, index: int = 0) -> int:
        """Argument ``index`` as a page number (1 when absent or not a number)."""
        arg = fold_width(self.args[index]) if len(self.args) > index else "1"
        return max(int(arg), 1) if arg.isdigit() else 1

    def refusal(self, err: DomainError) -> str:
        """The sentence that explains a refusal (the domain error's template)."""
        return self.runtime.refusal(err, self.service)

    async def person(self) -> Person:
        """The asker's Person record, created the first time it is needed."""
        inb = self.inbound
        return await self.runtime.identity.ensure_person(inb.platform, inb.user_id, inb.nickname)

    async def refresh_caller(self) -> None:
        inb = self.inbound
        self.runtime.identity.invalidate(inb.user_key)
        self.caller = await self.runtime.identity.resolve(
            inb.platform, inb.user_id, inb.display_name, inb.nickname
        )
