"""企业微信出站发送：应用消息（message/send）、应用群聊（appchat/send）、群机器人（webhook/send）。

Protocol: shared/protocols.md §2. Targets (bot/targets.py):

* ``wecom:<userid>`` — an app message to one member (``POST /cgi-bin/message/send``);
* ``wecom-chat:<chatid>`` — an app group chat (``POST /cgi-bin/appchat/send``),
  only for groups this app created (WeCom answers 86008 / 86003 otherwise);
* ``wecom-robot:<name>`` — a group robot webhook (``POST /cgi-bin/webhook/send?key=KEY``),
  the key looked up in ``wecom.robot_keys``; send-only, no access token.

The app's access token (``GET /cgi-bin/gettoken?corpid=&corpsecret=``) lives in the
shared TokenCache under ``wecom:<corp_id>:<agent_id>``. Platform trouble never raises
to the caller; it comes back as a SendResult:

* token rejected (40001 / 40014 / 42001): the token is refreshed once, for all
  concurrent callers together, and the call is retried once;
* transient (timeout, connection error, HTTP 5xx, errcode -1, 45009, 45033):
  retried with exponential backoff, ``max_attempts`` (3) calls in all;
* anything else: returned at once, ``permanent`` when resending the same message
  to the same target cannot succeed (81013 not in the app's visible range, 86003
  no such chat, 93000 robot removed, a member listed in ``invaliduser``, ...);
  an errcode not listed below is a failure carrying WeCom's own errmsg.

Pacing: ``wecom.rate_per_minute`` (when > 0) for every call, and one limiter per
robot key. WeCom allows a robot 20 messages in any minute; a leaky bucket
``AsyncLimiter(B, P)`` lets through at most ``B + B·60/P`` in 60 s, so the
default is ``AsyncLimiter(10, 60)`` (a burst of 10, then one every 6 s), which
never goes over 20 in a minute. ``AsyncLimiter(20, 60)`` would let about 40
through in the first minute after a pause and WeCom would refuse half of them.

A text over 2048 bytes (WeCom silently cuts app messages there) goes out as
several messages, cut on line ends, in order; the first failure stops the rest.

Neither the Secret, the access token nor a robot key is ever logged; URLs are
logged without their query string and robots by name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiolimiter import AsyncLimiter

from bot.config import WecomConfig
from bot.senders.base import Capabilities, Sender, SendResult
from bot.senders.token_api import (
    Outcome,
    TokenError,
    TokenSender,
    errcode_outcome,
    read_token_reply,
    token_lifetime,
)
from bot.senders.tokens import TokenCache
from bot.targets import Target
from bot.text import split_for_limit

if TYPE_CHECKING:
    from bot.inbound import Reply

log = logging.getLogger("lianxin.senders.wecom")

TOKEN_PATH = "/cgi-bin/gettoken"
MESSAGE_SEND = "/cgi-bin/message/send"
APPCHAT_SEND = "/cgi-bin/appchat/send"
WEBHOOK_SEND = "/cgi-bin/webhook/send"

# Text messages (app, appchat, robot) carry at most 2048 bytes of UTF-8.
MAX_TEXT_BYTES = 2048
# Per robot key: a burst of 10, then one every 6 s — never more than 20 in any minute.
ROBOT_BURST = 10
ROBOT_PERIOD = 60.0

# The platform did not accept the access token: refresh it and retry once.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Worth another try after a short wait.
TRANSIENT_ERRORS = frozenset({-1, 45009, 45033})

# errcode -> (readable reason, permanent). Codes and meanings: WeCom's global error
# code list (developer.work.weixin.qq.com/document/path/90313, as mirrored by
# binarywang/WxJava WxCpErrorMsgEnum and loojee/workwx errcodes). permanent = this
# message to this target will not get through by resending it.
KNOWN_ERRORS: dict[int, tuple[str, bool]] = {
    -1: ("企业微信系统繁忙", False),
    40001: ("access_token 无效", False),
    40003: ("UserID 无效", True),
    40008: ("消息类型不合法", True),
    40014: ("access_token 不合法", False),
    40056: ("agentid 不合法（检查 wecom.agent_id）", False),
    40058: ("参数不合法（例如内容超过长度限制）", True),
    41001: ("缺少 access_token", False),
    41011: ("缺少 agentid", False),
    42001: ("access_token 已过期", False),
    44004: ("文本消息内容为空", True),
    45002: ("消息内容超过长度限制", True),
    45009: ("接口调用超过频率限制", False),
    45033: ("接口并发调用超过限制", False),
    48002: ("应用没有调用该接口的权限", False),
    50002: ("成员不在应用的可见范围内", True),
    60011: ("没有向该成员发消息的权限", True),
    60020: ("服务器 IP 不在应用的企业可信 IP 中", False),
    81013: ("成员不存在或不在应用的可见范围内", True),
    82001: ("指定的成员全部无效", True),
    86001: ("群聊 chatid 不合法", True),
    86003: ("群聊不存在（chatid 不存在）", True),
    86008: ("不是本应用创建的群聊，应用不能在里面发消息", True),
    93000: ("群机器人 webhook 无效，或机器人已被移出群聊", True),
    93004: ("群机器人已被停用", True),
}

# Errors of the gettoken call itself (configuration, not the recipient).
TOKEN_FETCH_ERRORS: dict[int, str] = {
    -1: "企业微信系统繁忙",
    40001: "Secret 不合法（应用管理 → 自建应用 → Secret）",
    40013: "CorpID 不合法（我的企业 → 企业信息 → 企业ID）",
    40091: "Secret 不合法（可能是其他企业的 Secret）",
    41002: "缺少 corpid",
    41004: "缺少 corpsecret",
    45009: "获取 access_token 超过频率限制",
    60020: "服务器 IP 不在应用的企业可信 IP 中",
}

CAPABILITIES = Capabilities(
    reply=True,
    push_user=True,
    push_group=True,
    note=(
        "应用消息可主动发给可见范围内的成员（每人每分钟30条、每小时1000条，超出的被丢弃）；"
        "应用群聊只能发到本应用创建的群；群机器人只能发、不能收，每个机器人每分钟20条"
    ),
)


class WecomTokenError(TokenError):
    """gettoken did not give a token (code None for transport failures)."""


def _short_errmsg(errmsg: str) -> str:
    """WeCom's errmsg without the ", hint: [...], from ip: ..., more info at ..." tail."""
    return errmsg.split(", hint:")[0].split(", from ip:")[0].strip()


def _listed(value: Any, who: str) -> bool:
    """True when ``who`` is one of the "a|b|c" ids WeCom lists in ``value``."""
    return isinstance(value, str) and who in value.split("|")


class WecomSender(TokenSender):
    capabilities = CAPABILITIES
    platform = "wecom"
    timeout_reason = "请求企业微信接口超时"
    connect_reason = "连接企业微信接口失败"
    config: WecomConfig

    def __init__(
        self,
        config: WecomConfig,
        session: aiohttp.ClientSession,
        tokens: TokenCache,
        *,
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        robot_burst: int = ROBOT_BURST,
        robot_period: float = ROBOT_PERIOD,
    ) -> None:
        super().__init__(
            config,
            session,
            tokens,
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
        )
        self.robot_burst = robot_burst
        self.robot_period = robot_period
        # robot key → its limiter (two names for one key share it).
        self._robot_limiters: dict[str, AsyncLimiter] = {}

    def _token_key(self) -> str:
        return f"wecom:{self.config.corp_id}:{self.config.agent_id}"

    @property
    def app_configured(self) -> bool:
        """Whether app messages and app group chats can be sent (corp id, secret, agent id)."""
        c = self.config
        return bool(c.corp_id and c.secret and c.agent_id > 0)

    # -- public API ---------------------------------------------------------

    def refusal(self, target: Target) -> str | None:
        if target.kind == "robot":
            if target.id not in self.config.robot_keys:
                return (
                    f"wecom: group robot {target.id!r} is not configured "
                    "(add its webhook key to wecom.robot_keys)"
                )
            return None
        if not self.app_configured:
            return (
                "wecom: no app configured (wecom.corp_id, wecom.secret, wecom.agent_id); "
                "only group robots can be reached"
            )
        return super().refusal(target)

    async def send(self, target: Target, reply: Reply) -> SendResult:
        why = self.refusal(target)
        if why is not None:
            return SendResult(False, None, why, permanent=True, attempts=0)
        if target.kind == "robot":
            return await self.send_robot(target.id, reply.text)
        if target.kind == "group":
            return await self.send_appchat(target.id, reply.text)
        return await self.send_text(target.id, reply.text)

    async def send_text(self, user_id: str, text: str) -> SendResult:
        """App text message to one member (UserID)."""
        if not self.app_configured:
            return self._not_configured()

        async def one(part: str) -> SendResult:
            body = {
                "touser": user_id,
                "msgtype": "text",
                "agentid": self.config.agent_id,
                "text": {"content": part},
            }
            return await self._deliver(MESSAGE_SEND, body, recipient=user_id)

        return await self._in_parts(text, one)

    async def send_appchat(self, chat_id: str, text: str) -> SendResult:
        """Text into an app group chat (one this app created with appchat/create)."""
        if not self.app_configured:
            return self._not_configured()

        async def one(part: str) -> SendResult:
            body = {"chatid": chat_id, "msgtype": "text", "text": {"content": part}, "safe": 0}
            return await self._deliver(APPCHAT_SEND, body)

        return await self._in_parts(text, one)

    async def send_robot(self, name: str, text: str) -> SendResult:
        """Text through the group robot ``name`` of ``wecom.robot_keys``."""
        key = self.config.robot_keys.get(name)
        if not key:
            why = self.refusal(Target("wecom-robot", name)) or ""
            return SendResult(False, None, why, permanent=True, attempts=0)

        async def one(part: str) -> SendResult:
            body = {"msgtype": "text", "text": {"content": part}}
            return await self._deliver(WEBHOOK_SEND, body, robot=(name, key))

        return await self._in_parts(text, one)

    # -- the shared call path ----------------------------------------------

    def _not_configured(self) -> SendResult:
        return SendResult(
            False,
            None,
            "wecom: no app configured (wecom.corp_id, wecom.secret, wecom.agent_id)",
            permanent=True,
            attempts=0,
        )

    async def _in_parts(
        self, text: str, send_one: Callable[[str], Awaitable[SendResult]]
    ) -> SendResult:
        parts = [p for p in split_for_limit(text, MAX_TEXT_BYTES) if p.strip()] or [text]
        attempts = 0
        for i, part in enumerate(parts):
            result = await send_one(part)
            attempts += result.attempts
            if not result.ok:
                reason = result.reason
                if len(parts) > 1:
                    reason = f"第 {i + 1}/{len(parts)} 段：{reason}"
                return SendResult(False, result.code, reason, result.permanent, attempts)
        return SendResult(ok=True, attempts=attempts)

    async def _deliver(
        self,
        path: str,
        body: dict[str, Any],
        *,
        recipient: str | None = None,
        robot: tuple[str, str] | None = None,
    ) -> SendResult:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        what = f"{path} (robot {robot[0]!r})" if robot else path
        return await self._call(what, lambda: self._attempt(path, payload, recipient, robot))

    async def _attempt(
        self,
        path: str,
        payload: bytes,
        recipient: str | None,
        robot: tuple[str, str] | None,
    ) -> tuple[Outcome, str | None]:
        """One try: get a token (not for robots), wait for the limiters, POST."""
        token: str | None = None
        if robot is None:
            got = await self._token()
            if isinstance(got, Outcome):
                return got, None
            token = got
            params = {"access_token": token}
        else:
            params = {"key": robot[1]}
            await self._robot_limiter(robot[1]).acquire()
        reply = await self._post(f"{self.api_base}{path}", payload, params=params)
        if isinstance(reply, Outcome):
            return reply, token
        return self._classify(*reply, recipient), token

    def _robot_limiter(self, key: str) -> AsyncLimiter:
        limiter = self._robot_limiters.get(key)
        if limiter is None:
            limiter = AsyncLimiter(self.robot_burst, self.robot_period)
            self._robot_limiters[key] = limiter
        return limiter

    @staticmethod
    def _classify(status: int, raw: bytes, recipient: str | None) -> Outcome:
        outcome, data = errcode_outcome(
            status,
            raw,
            api="企业微信接口",
            known=KNOWN_ERRORS,
            transient=TRANSIENT_ERRORS,
            token_errors=TOKEN_ERRORS,
            errmsg=_short_errmsg,
        )
        if outcome.ok and recipient is not None:
            # Partly invalid recipients still give errcode 0 (protocols.md §2).
            if _listed(data.get("invaliduser"), recipient):
                return Outcome(
                    ok=False,
                    reason=f"成员 {recipient} 无效或不在应用的可见范围内（invaliduser）",
                    permanent=True,
                )
            if _listed(data.get("unlicenseduser"), recipient):
                return Outcome(
                    ok=False,
                    reason=f"成员 {recipient} 没有接口许可（unlicenseduser）",
                    permanent=True,
                )
        return outcome

    # -- access token ------------------------------------------------------

    async def _fetch_token(self) -> tuple[str, float]:
        """GET gettoken. WeCom hands out the same token again while it is valid."""
        params = {"corpid": self.config.corp_id, "corpsecret": self.config.secret}
        status, data = await read_token_reply(
            self.session.get(f"{self.api_base}{TOKEN_PATH}", params=params, timeout=self.timeout),
            WecomTokenError,
        )
        if not isinstance(data, dict):
            raise WecomTokenError(None, f"无法解析的回答（HTTP {status}）", transient=True)
        errcode = data.get("errcode", 0)
        token = data.get("access_token")
        if errcode == 0 and isinstance(token, str) and token:
            return token, token_lifetime(data)
        errmsg = _short_errmsg(str(data.get("errmsg", "")))
        if isinstance(errcode, int) and errcode != 0:
            text = TOKEN_FETCH_ERRORS.get(errcode, "企业微信接口返回错误")
        else:
            text = "回答中没有 access_token"
        reason = f"{text}（{errmsg}）" if errmsg else text
        raise WecomTokenError(
            errcode if isinstance(errcode, int) and errcode != 0 else None,
            reason,
            transient=errcode in TRANSIENT_ERRORS,
        )


def build(config: WecomConfig, session: aiohttp.ClientSession, tokens: TokenCache) -> Sender | None:
    """The sender for late replies and pushes: needs an app (corp id, secret, agent id)
    or at least one group robot key."""
    app = bool(config.corp_id and config.secret and config.agent_id > 0)
    if not app and not config.robot_keys:
        return None
    return WecomSender(config, session, tokens)
