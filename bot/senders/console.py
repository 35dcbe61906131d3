"""开发用的控制台推送：消息留在内存里，下次该用户/该群在 /console 或 lianxin chat 说话时带回。

So that `make run` and `lianxin chat` show what the bot pushes (a request's
notice to the group, a reply to the requester) without any real platform.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

import aiohttp

from bot.senders.base import Capabilities, Sender, SendResult
from bot.senders.tokens import TokenCache

CAPABILITIES = Capabilities(
    reply=True,
    push_user=True,
    push_group=True,
    note="开发用：推送留在内存，随下一次对话返回",
    status="开发用",
)


class ConsoleSender(Sender):
    platform = "console"
    capabilities = CAPABILITIES

    def __init__(self, keep: int = 100) -> None:
        # "console:<user or chat id>" → texts not yet shown.
        self.outbox: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=keep))

    async def send_text(self, user_id: str, text: str) -> SendResult:
        self.outbox[user_id].append(text)
        return SendResult(True)

    async def send(self, target: Any, reply: Any) -> SendResult:
        # People and group chats share one namespace on the console.
        return await self.send_text(target.id, reply.text)

    def take(self, *ids: str) -> list[str]:
        """The pushes waiting for these ids (a user and the chat they are in), once."""
        texts: list[str] = []
        for ident in dict.fromkeys(ids):
            box = self.outbox.pop(ident, None)
            if box:
                texts.extend(box)
        return texts


def build(config: Any, session: aiohttp.ClientSession, tokens: TokenCache) -> Sender | None:
    return ConsoleSender()
