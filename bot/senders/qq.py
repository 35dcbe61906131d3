"""QQ 官方机器人出站发送：只有被动回复（带 msg_id 的 v2 单聊 / 群聊消息）。

Sources: shared/protocols.md §4; tencent-connect/bot-docs
``docs/develop/api-v2/dev-prepare/interface-framework/api-use.md`` (token),
``…/server-inter/message/send-receive/send.md`` (send, 22009) and
``docs/develop/api-v2/openapi/error/error.md`` (error codes); tencent-connect/botgo
``errs`` (11244 = token expired or missing).

* The app access token comes from ``POST {token_url} {"appId", "clientSecret"}``
  → ``{"access_token", "expires_in": "7200"}`` (a string) and lives in the shared
  TokenCache under ``qq:<appid>``. The endpoint hands out the current token until
  60 s before it expires, so a refresh inside the cache's margin may get the same
  token back with a short ``expires_in``; the cache then asks again later.
* Calls carry ``Authorization: QQBot <token>``. HTTP 401 or a token code (11241,
  11243, 11244) refreshes the token once, for all concurrent callers together,
  and retries once.
* 22009 (msg limit exceed), HTTP 429, HTTP 5xx, timeouts and connection errors are
  retried with exponential backoff, ``max_attempts`` calls in all; the codes the
  error table marks "retry at most once" (11242, 11252, 11263, 11281) once.
* Anything else comes back at once with the platform's code and message.

Since 2025-04-21 the platform no longer lets a bot message anyone unasked, so only
``reply`` (with the ``msg_id`` of the user's message) sends anything; ``send`` and
``send_text`` are refused without a request, and `CAPABILITIES` says so.

A retry after a timeout re-sends the same ``msg_id + msg_seq``; the platform refuses
a repeat (40054005), which here means the earlier attempt did arrive.

Neither the secret nor any token value is ever logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.config import QQConfig
from bot.inbound import Reply
from bot.senders.base import Capabilities, Sender, SendResult
from bot.senders.token_api import (
    Outcome,
    TokenError,
    TokenSender,
    read_token_reply,
    token_lifetime,
)
from bot.senders.tokens import TokenCache
from bot.targets import BadTarget, Target

log = logging.getLogger("lianxin.senders.qq")

CAPABILITIES = Capabilities(
    reply=True,
    push_user=False,
    push_group=False,
    note=(
        "2025-04-21 起不再提供主动推送，只能被动回复："
        "群聊 @ 消息 5 分钟内、单聊消息 60 分钟内，每条消息最多回复 5 次"
    ),
)

# Most replies one user message can get (send.md).
MAX_REPLIES_PER_MESSAGE = 5

# The platform did not accept the token: refresh it and retry once.
# 11241 no token, 11243 token wrong (error.md); 11244 expired or unknown (botgo errs).
TOKEN_ERRORS = frozenset({11241, 11243, 11244})
# Worth another try after a short wait: 22009 msg limit exceed (send.md);
# 304082 / 304083 rich-media fetch failed, "请重试" (send.md).
TRANSIENT_ERRORS = frozenset({22009, 304082, 304083})
# System errors the error table says to retry "at most once".
RETRY_ONCE_ERRORS = frozenset({11242, 11252, 11263, 11281})
# The same msg_id + msg_seq was sent before. Not in error.md; the code public
# ports of the API observe ("消息被去重，请检查请求msgseq").
DUPLICATE_SEQ = 40054005
# Accepted, held for manual review (error.md; answered with HTTP 201/202).
ACCEPTED_FOR_REVIEW = frozenset({304023, 304024})

# code -> (readable reason, permanent). permanent = resending this message cannot work.
KNOWN_ERRORS: dict[int, tuple[str, bool]] = {
    11241: ("缺少 access_token", False),
    11242: ("校验 access_token 失败（平台系统错误）", False),
    11243: ("access_token 不正确", False),
    11244: ("access_token 已过期或不存在", False),
    11251: ("AppID 无法识别", False),
    11252: ("检查应用权限失败（平台系统错误）", False),
    11253: ("机器人没有调用该接口的权限", True),
    11254: ("机器人的该接口已被封禁", True),
    11263: ("检查权限失败（平台系统错误）", False),
    11265: ("机器人已被封禁", True),
    11281: ("检查管理员失败（平台系统错误）", False),
    12002: ("请求体错误", True),
    22009: ("消息发送超频", False),
    50006: ("消息为空", True),
    50045: ("不能回复机器人自己产生的消息", True),
    50046: ("不是 @机器人 的消息", True),
    50048: ("缺少 msg_id（平台已不提供主动推送）", True),
    304026: ("回复的消息 id 错误", True),
    304027: ("回复的消息已过期（群聊 5 分钟、单聊 60 分钟）", True),
    304028: ("不允许回复非 @ 当前用户的消息", True),
    304082: ("富媒体资源拉取失败", False),
    304083: ("富媒体资源转换失败", False),
    DUPLICATE_SEQ: ("同一 msg_id 的这个 msg_seq 已经发送过", True),
}

NO_PUSH = "qq: 平台自 2025-04-21 起不再提供主动推送，只能在用户消息后被动回复"


class QQTokenError(TokenError):
    """getAppAccessToken did not give a token (code None when the platform sent none)."""


class QQSender(TokenSender):
    """Passive replies. The ``timeout`` (10 s unless given) must stay at least 5 s
    (send.md), or a message that arrived looks failed."""

    platform = "qq"
    capabilities = CAPABILITIES
    timeout_reason = "请求 QQ 接口超时"
    connect_reason = "连接 QQ 接口失败"
    config: QQConfig

    def _token_key(self) -> str:
        return f"qq:{self.config.appid}"

    # -- public API ---------------------------------------------------------

    async def reply(
        self, target: Target | str, text: str, msg_id: str, msg_seq: int = 1
    ) -> SendResult:
        """Passive text reply to the user message ``msg_id`` in a C2C chat or a group.

        ``target`` is ``qq:<user_openid>`` or ``qq-group:<group_openid>``; number the
        replies to one message 1, 2, 3… (at most `MAX_REPLIES_PER_MESSAGE`).
        """
        try:
            t = target if isinstance(target, Target) else Target.parse(target)
        except BadTarget as exc:
            return SendResult(False, None, str(exc), permanent=True, attempts=0)
        if t.platform != "qq":
            return SendResult(False, None, f"qq: cannot send to {t}", permanent=True, attempts=0)
        if not msg_id:
            return SendResult(False, None, NO_PUSH, permanent=True, attempts=0)
        kind = "groups" if t.is_group else "users"
        path = f"/v2/{kind}/{quote(t.id, safe='')}/messages"
        body = {"content": text, "msg_type": 0, "msg_id": msg_id, "msg_seq": int(msg_seq)}
        return await self._send(path, body)

    async def send_text(self, user_id: str, text: str) -> SendResult:
        """Refused: a message without a user message to answer is an active push."""
        return SendResult(False, None, NO_PUSH, permanent=True, attempts=0)

    async def send(self, target: Target, reply: Reply) -> SendResult:
        """Refused for the same reason; passive replies go through `reply`."""
        return SendResult(False, None, NO_PUSH, permanent=True, attempts=0)

    # -- the shared call path ----------------------------------------------

    async def _send(self, path: str, body: dict[str, Any]) -> SendResult:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        tries = 0
        uncertain = False

        async def attempt() -> tuple[Outcome, str | None]:
            nonlocal tries, uncertain
            tries += 1
            outcome, token = await self._attempt(path, payload)
            if outcome.code == DUPLICATE_SEQ and uncertain:
                # An earlier attempt timed out or got a 5xx, yet the platform has it.
                log.info("%s: msg_seq already delivered by attempt %d", path, tries - 1)
                return Outcome(ok=True), token
            uncertain = uncertain or outcome.uncertain
            return outcome, token

        return await self._call(path, attempt)

    async def _attempt(self, path: str, payload: bytes) -> tuple[Outcome, str | None]:
        """One try: get a token, POST. Returns the outcome and the token used."""
        token = await self._token()
        if isinstance(token, Outcome):
            return token, None
        reply = await self._post(
            f"{self.api_base}{path}", payload, headers={"Authorization": f"QQBot {token}"}
        )
        if isinstance(reply, Outcome):
            return reply, token
        return self._classify(*reply), token

    @staticmethod
    def _classify(status: int, raw: bytes) -> Outcome:
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = None
        code: int | None = None
        message = ""
        if isinstance(data, dict):
            for field in ("code", "err_code"):
                value = data.get(field)
                if isinstance(value, int) and not isinstance(value, bool) and value != 0:
                    code = value
                    break
            message = str(data.get("message") or "")
        if 200 <= status < 300 and code is None:
            return Outcome(ok=True)
        if 200 <= status < 300 and code in ACCEPTED_FOR_REVIEW:
            return Outcome(ok=True, code=code, reason=f"已提交，等待平台审核（{message}）")
        if code is None:
            if status >= 500:
                return Outcome(
                    ok=False, reason=f"QQ 接口 HTTP {status}", transient=True, uncertain=True
                )
            return Outcome(
                ok=False,
                reason=f"QQ 接口 HTTP {status}" + (f"（{message}）" if message else ""),
                transient=status == 429,
                token_rejected=status == 401,
            )
        text, permanent = KNOWN_ERRORS.get(code, ("QQ 接口返回错误", False))
        return Outcome(
            ok=False,
            code=code,
            reason=f"{text}（{message}）" if message else text,
            transient=code in TRANSIENT_ERRORS or status >= 500 or status == 429,
            retry_once=code in RETRY_ONCE_ERRORS,
            permanent=permanent,
            token_rejected=code in TOKEN_ERRORS or status == 401,
            uncertain=status >= 500,
        )

    # -- access token ------------------------------------------------------

    async def _fetch_token(self) -> tuple[str, float]:
        body = {"appId": self.config.appid, "clientSecret": self.config.secret}
        status, data = await read_token_reply(
            self.session.post(self.config.token_url, json=body, timeout=self.timeout), QQTokenError
        )
        if not isinstance(data, dict):
            raise QQTokenError(None, f"无法解析的回答（HTTP {status}）", transient=status == 200)
        token = data.get("access_token")
        if isinstance(token, str) and token:
            return token, token_lifetime(data)  # "7200": a string
        code = data.get("code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = str(data.get("message") or "")
        text = f"HTTP {status}，回答中没有 access_token"
        raise QQTokenError(code, f"{text}（{message}）" if message else text, transient=False)


def build(config: QQConfig, session: aiohttp.ClientSession, tokens: TokenCache) -> Sender | None:
    """The sender for passive replies; needs the AppID and the AppSecret."""
    if not (config.appid and config.secret):
        return None
    return QQSender(config, session, tokens)
