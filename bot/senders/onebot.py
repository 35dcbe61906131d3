"""OneBot v11 出站发送：send_private_msg / send_group_msg，经 OneBot HTTP API。

``Authorization: Bearer <access_token>`` when a token is configured; every
message goes with ``auto_escape: true`` so our text is never read as CQ codes.
HTTP 5xx and timeouts are retried; 401/403/404 mean the deployment is wrong
and are not; a ``failed`` status (bot not in the group, user not a friend) is
recorded with its retcode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from aiolimiter import AsyncLimiter

from bot.config import OnebotConfig
from bot.inbound import Reply
from bot.senders.base import (
    Attempt,
    Capabilities,
    Sender,
    SendResult,
    post_for_body,
    with_retries,
)
from bot.senders.tokens import TokenCache
from bot.targets import Target

log = logging.getLogger("lianxin.senders.onebot")

CAPABILITIES = Capabilities(
    reply=True,
    push_user=True,
    push_group=True,
    note="可发到机器人所在的任何群和好友；默认每群每秒1条，避免刷屏封号",
    status="非官方",
)

HTTP_REASONS = {
    401: "OneBot 要求 access_token（onebot.access_token 未配置）",
    403: "OneBot 拒绝了 access_token（与 OneBot 配置不一致）",
    404: "OneBot 不支持这个接口",
    406: "OneBot 不接受这个 Content-Type",
    400: "OneBot 认为请求体格式错误",
}


LABELS = {"send_private_msg": "onebot send_private_msg", "send_group_msg": "onebot send_group_msg"}


def _tail(text: str) -> bytes:
    """The body after the id: `send_*_msg`'s JSON as json.dumps writes it."""
    message = json.dumps(text, ensure_ascii=False)
    return f', "message": {message}, "auto_escape": true}}'.encode()


class OnebotSender(Sender):
    platform = "onebot"
    capabilities = CAPABILITIES

    def __init__(
        self,
        config: OnebotConfig,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        rate_period: float = 60.0,
    ) -> None:
        self.api_url = config.api_url.rstrip("/")
        self._urls = {action: f"{self.api_url}/{action}" for action in LABELS}
        self.session = session
        self.headers = {"Content-Type": "application/json; charset=utf-8"}
        if config.access_token:
            self.headers["Authorization"] = f"Bearer {config.access_token}"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self._limiter = (
            AsyncLimiter(config.rate_per_minute, rate_period)
            if config.rate_per_minute > 0
            else None
        )

    async def send_text(self, user_id: str, text: str) -> SendResult:
        return await self.send(Target("onebot", user_id), Reply(text))

    async def send(self, target: Target, reply: Reply) -> SendResult:
        return await self._send(target, _tail(reply.text))

    def poster(self, reply: Reply) -> Callable[[Target], Awaitable[SendResult]]:
        tail = _tail(reply.text)  # the text is encoded once for every target
        return lambda target: self._send(target, tail)

    async def _send(self, target: Target, tail: bytes) -> SendResult:
        if not target.id.isdigit():
            return SendResult(False, None, f"QQ 号/群号必须是数字：{target.id}", permanent=True)
        if target.kind == "user":
            action, head = "send_private_msg", b'{"user_id": '
        elif target.kind == "group":
            action, head = "send_group_msg", b'{"group_id": '
        else:
            return SendResult(False, None, f"onebot cannot post to {target}", permanent=True)
        # = json.dumps({"group_id": int(id), "message": text, "auto_escape": True})
        payload = head + str(int(target.id)).encode() + tail
        url = self._urls[action]
        return await with_retries(
            lambda: self._attempt(url, payload),
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            label=LABELS[action],
        )

    async def _attempt(self, url: str, payload: bytes) -> Attempt:
        if self._limiter is not None:
            await self._limiter.acquire()
        raw = await post_for_body(
            self.session,
            url,
            payload,
            self.headers,
            self.timeout,
            name="OneBot",
            http_reasons=HTTP_REASONS,
        )
        if isinstance(raw, Attempt):
            return raw
        try:
            data = json.loads(raw)
            retcode = int(data.get("retcode", -1))
        except (ValueError, TypeError, AttributeError):
            return Attempt(SendResult(False, None, "OneBot 返回了无法解析的应答"), transient=True)
        if data.get("status") in ("ok", "async") and retcode in (0, 1):
            return Attempt(SendResult(True))
        message = str(data.get("wording") or data.get("message") or data.get("msg") or "")
        return Attempt(
            SendResult(False, retcode, f"OneBot 发送失败：{message or data.get('status')}", True)
        )


def build(
    config: OnebotConfig, session: aiohttp.ClientSession, tokens: TokenCache
) -> Sender | None:
    """Needs the OneBot HTTP API address (onebot.api_url)."""
    if not config.api_url:
        return None
    return OnebotSender(config, session)
