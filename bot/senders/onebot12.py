"""OneBot 12 出站发送：``send_message`` 动作，经实现的 HTTP 动作端点（如 ComWeChatBotClient）。

Source: botuniverse/onebot ``specs/connect/communication/http.md`` and
``connect/data-protocol/action-{request,response}.md`` (shared/protocols.md,
"OneBot 12"). One POST per action to ``onebot12.api_url``::

    {"action": "send_message", "params": {"detail_type": "group", "group_id": "…",
     "message": [{"type": "text", "data": {"text": "…"}}]}, "echo": "…", "self": {…}}

``Authorization: Bearer <api_access_token>`` when configured. ``self`` names the
bot account when the channel has seen one for the target's platform (an
implementation serving several accounts answers 10101 without it).

Outcomes, recorded on the Delivery row by bot/outbound.py (``error_code`` is the
retcode): ``ok`` → sent. HTTP 401 (token), 404, 415 → failed, permanent (the
deployment is wrong). HTTP 5xx, timeouts, connection errors, retcodes 2xxxx
(handler errors), 33xxx (network) and 36xxx ("I am tired") → retried with
backoff, then failed. Every other retcode → failed at once with its meaning:
10002 (no send_message), the other 1xxxx (a request the implementation cannot
take), 10101/10102 (bot account), 31xxx/32xxx (its database or files), 34xxx
(the platform refused, e.g. a WeChat limit), 35xxx (no such friend or group),
6xxxx+ (the implementation's own). A 10005 to a message with a ``mention``
segment is tried once more as plain text (some implementations cannot @).
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import aiohttp

from bot.config import Onebot12Config
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

log = logging.getLogger("lianxin.senders.onebot12")

CAPABILITIES = Capabilities(
    reply=True,
    push_user=True,
    push_group=True,
    note=(
        "个人微信桥接（ComWeChatBotClient 等，非腾讯官方，挂钩桌面客户端，"
        "账号可能被限制，需自行选择启用）：可发到所在的群和好友；默认每群每秒1条"
    ),
    status="非官方",
)

HTTP_REASONS = {
    401: "OneBot 12 实现拒绝了 access_token（onebot12.api_access_token 与实现配置不一致）",
    404: "OneBot 12 动作地址不对（onebot12.api_url）",
    405: "OneBot 12 动作地址只收 POST 以外的请求（onebot12.api_url 不对）",
    415: "OneBot 12 实现不接受 application/json",
}

# retcode → meaning, for the exact codes the standard defines.
RETCODES = {
    10001: "无效的动作请求",
    10002: "实现不支持 send_message 动作",
    10003: "动作参数无效",
    10004: "实现不支持该动作参数",
    10005: "实现不支持该消息段",
    10006: "消息段参数无效",
    10007: "实现不支持该消息段参数",
    10101: "实现有多个机器人账号，未指定用哪一个",
    10102: "实现不认识这个机器人账号",
    20001: "实现的动作处理器有误",
    20002: "实现内部出错",
}
# retcode // 1000 → meaning, for the ranges (the low three digits are the implementation's).
RETCODE_RANGES = {
    31: "实现的数据库出错",
    32: "实现的文件系统出错",
    33: "实现的网络出错",
    34: "平台拒绝发送（如微信的频率或风控限制）",
    35: "目标不存在或不可达（不是好友、不在群里）",
    36: "实现暂停工作",
}
TRANSIENT_RANGES = {20, 33, 36}
UNSUPPORTED_SEGMENT = 10005


def retcode_reason(retcode: int) -> str:
    """What a failed retcode means, in the words of the standard's table."""
    if retcode in RETCODES:
        return RETCODES[retcode]
    return RETCODE_RANGES.get(retcode // 1000, "实现自定义错误")


def is_transient(retcode: int) -> bool:
    """Worth trying again: handler errors (2xxxx), network (33xxx), tired (36xxx)."""
    return retcode // 1000 in TRANSIENT_RANGES or retcode // 10000 == 2


def message_params(target: Target) -> tuple[str, dict[str, Any]] | None:
    """(self.platform, send_message params without the message) of
    ``onebot12:<platform>:<user_id>`` / ``onebot12-group:<platform>:<group_id>``."""
    platform, sep, ident = target.id.partition(":")
    if not sep or not platform or not ident or target.kind not in ("user", "group"):
        return None
    if target.kind == "user":
        return platform, {"detail_type": "private", "user_id": ident}
    return platform, {"detail_type": "group", "group_id": ident}


def action_request(
    platform: str,
    params: dict[str, Any],
    segments: list[dict[str, Any]],
    bot: str | None,
    echo: str,
) -> dict[str, Any]:
    """The ``send_message`` action request (also what an opted-in webhook answer carries)."""
    request: dict[str, Any] = {
        "action": "send_message",
        "params": {**params, "message": segments},
        "echo": echo,
    }
    if bot:
        request["self"] = {"platform": platform, "user_id": bot}
    return request


def text_segments(text: str, mention: str | None = None) -> list[dict[str, Any]]:
    """The message as OneBot 12 segments: an optional @ in front, then the text."""
    segments: list[dict[str, Any]] = []
    if mention:
        segments.append({"type": "mention", "data": {"user_id": mention}})
        text = " " + text
    segments.append({"type": "text", "data": {"text": text}})
    return segments


class Onebot12Sender(Sender):
    platform = "onebot12"
    capabilities = CAPABILITIES

    def __init__(
        self,
        config: Onebot12Config,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
    ) -> None:
        self.api_url = config.api_url
        self.session = session
        self.headers = {"Content-Type": "application/json; charset=utf-8"}
        if config.api_access_token:
            self.headers["Authorization"] = f"Bearer {config.api_access_token}"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        # self.platform → the bot account seen on it (the channel tells us).
        self.selves: dict[str, str] = {}
        self._echo = itertools.count(1)

    def remember_self(self, platform: str, user_id: str) -> None:
        self.selves[platform] = user_id

    def refusal(self, target: Target) -> str | None:
        if message_params(target) is None:
            return f"目标应为 onebot12:平台:ID 或 onebot12-group:平台:群ID：{target}"
        return super().refusal(target)

    async def send_text(self, user_id: str, text: str) -> SendResult:
        return await self.send(Target("onebot12", user_id), Reply(text))

    async def send(self, target: Target, reply: Reply) -> SendResult:
        return await self.send_message(target, reply.text)

    async def send_message(
        self, target: Target, text: str, *, mention: str | None = None
    ) -> SendResult:
        """``send_message`` to a person or a group, ``mention`` @-ing someone in a group."""
        why = self.refusal(target)
        found = message_params(target)
        if why is not None or found is None:
            return SendResult(False, None, why or "", permanent=True, attempts=0)
        platform, params = found
        mention = mention if target.kind == "group" else None
        result = await self._send(platform, params, text_segments(text, mention))
        if mention and result.code == UNSUPPORTED_SEGMENT:
            log.info("onebot12: %s cannot @; sending as plain text", platform)
            result = await self._send(platform, params, text_segments(text))
        return result

    async def _send(
        self, platform: str, params: dict[str, Any], segments: list[dict[str, Any]]
    ) -> SendResult:
        request = action_request(
            platform, params, segments, self.selves.get(platform), str(next(self._echo))
        )
        payload = json.dumps(request, ensure_ascii=False)
        return await with_retries(
            lambda: self._attempt(payload.encode("utf-8")),
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            label=f"onebot12 send_message {params['detail_type']}",
        )

    async def _attempt(self, payload: bytes) -> Attempt:
        raw = await post_for_body(
            self.session,
            self.api_url,
            payload,
            self.headers,
            self.timeout,
            name="OneBot 12",
            http_reasons=HTTP_REASONS,
        )
        if isinstance(raw, Attempt):
            return raw
        try:
            data = json.loads(raw)
            retcode = int(data["retcode"])
            ok = data["status"] == "ok"
        except (ValueError, TypeError, KeyError):
            reason = "OneBot 12 实现返回了无效的动作响应"
            return Attempt(SendResult(False, None, reason), transient=True)
        if ok and retcode == 0:
            return Attempt(SendResult(True))
        message = str(data.get("message") or "").strip()
        reason = f"OneBot 12 发送失败（{retcode_reason(retcode)}）" + (
            f"：{message}" if message else ""
        )
        transient = is_transient(retcode)
        return Attempt(SendResult(False, retcode, reason, permanent=not transient), transient)


def build(
    config: Onebot12Config, session: aiohttp.ClientSession, tokens: TokenCache
) -> Sender | None:
    """Needs the implementation's HTTP action address (onebot12.api_url)."""
    if not config.api_url:
        return None
    return Onebot12Sender(config, session)
