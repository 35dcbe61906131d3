"""企业微信智能机器人：只能在被问到时回答（流式被动回复），不能主动推送。

The smart robot answers in the callback's reply (bot/channels/wecom_bot.py); the
platform offers no API to message a person or a group unasked, so every push to
``wecom-bot:<userid>`` / ``wecom-bot-chat:<chatid>`` is refused up front with
this reason (and the Delivery row says so).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.senders.base import Capabilities, Sender, SendResult
from bot.senders.tokens import TokenCache

CAPABILITIES = Capabilities(
    reply=True,
    push_user=False,
    push_group=False,
    note="企业微信官方智能机器人：群聊（需@）与单聊，只能被动回复（流式，约6分钟内），不能主动推送",
)


class WecomBotSender(Sender):
    platform = "wecom-bot"
    capabilities = CAPABILITIES

    async def send_text(self, user_id: str, text: str) -> SendResult:
        return SendResult(False, None, CAPABILITIES.note, permanent=True, attempts=0)


def build(config: Any, session: aiohttp.ClientSession, tokens: TokenCache) -> Sender | None:
    return WecomBotSender()
