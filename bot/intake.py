"""群里的诉求（自动受理，默认关）：像诉求的话，只问作者一句“需要登记为诉求吗？回复 1”。

Chatter costs nothing: the words are looked at first (length, no @ of another member,
not an officer, the request vocabulary of templates/zh_CN/intents.toml), and only a
message that reads as a request looks up the group's switch (cached) and the rate
gates (in the database, so they hold across processes): one prompt per person per
30 minutes, per group per 5 minutes. The answer is a dialog of that person in that
group; it expires quietly.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.dialogs import Dialog, Step
from bot.intents import matcher_for
from bot.text import fold_width
from models.talk import GroupSetting, PromptGate

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.inbound import Reply


class IntakeQuestion(Dialog, key="intake", quiet=True):
    """群里问作者“需要登记为诉求吗？回复 1”：没人答就悄悄作废。"""

    confirm = Step()


PERSON_GAP = timedelta(minutes=30)
GROUP_GAP = timedelta(minutes=5)
# Shorter than this is chatter ("灯坏了？"), longer is an article, not a request.
MIN_CHARS, MAX_CHARS = 8, 300
_MENTION = re.compile(r"@\S")


def reads_as_request(ctx: Ctx) -> bool:
    """Words only, no database: a request by its author, in their own words."""
    text = fold_width(ctx.inbound.text).strip()
    if not MIN_CHARS <= len(text) <= MAX_CHARS or _MENTION.search(text):
        return False
    if ctx.inbound.extra.get("reply_to") or ctx.org is None:
        return False  # a reply to another member; or a group of no organisation
    if ctx.caller.is_officer_of(ctx.org):
        return False
    found = matcher_for(ctx.runtime.templates).detect(text, group=True)
    return found is not None and found.intent.name == "request"


class Intake:
    """The groups' 自动受理 switches, cached for `ttl` seconds."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._switches: dict[str, tuple[bool, float]] = {}

    async def is_on(self, chat_key: str) -> bool:
        known = self._switches.get(chat_key)
        if known and time.monotonic() - known[1] < self.ttl:
            return known[0]
        row = await GroupSetting.filter(chat_key=chat_key).first()
        on = bool(row and row.auto_intake)
        if len(self._switches) > 10_000:
            self._switches.clear()
        self._switches[chat_key] = (on, time.monotonic())
        return on

    async def switch(self, chat_key: str, on: bool, now: datetime) -> None:
        await GroupSetting.update_or_create(
            chat_key=chat_key, defaults={"auto_intake": on, "updated_at": now}
        )
        self._switches[chat_key] = (on, time.monotonic())

    async def noticed(self, ctx: Ctx) -> bool:
        return reads_as_request(ctx) and await self.is_on(ctx.inbound.chat_key)


async def prompt_author(ctx: Ctx) -> Reply | None:
    """Ask the author once, if the gates are open; otherwise say nothing."""
    inb = ctx.inbound
    gates = {f"group:{inb.chat_key}": GROUP_GAP, f"person:{inb.user_key}": PERSON_GAP}
    if not await PromptGate.pass_all(gates, ctx.runtime.clock.now()):
        return None
    await ctx.dialog.start(IntakeQuestion.confirm, text=inb.text.strip())
    return ctx.render("intake_prompt")
