"""微信公众号出站发送：客服消息（custom/send）和模板消息（template/send）。

Every call carries the stable access token (``POST /cgi-bin/stable_token``) from
the shared TokenCache. Platform trouble never raises to the caller; it comes back
as a SendResult:

* token rejected (40001 / 42001 / 40014): the token is refreshed once, for all
  concurrent callers together, and the call is retried once;
* transient (timeout, connection error, HTTP 5xx, errcode -1, 45009, 45011):
  retried with exponential backoff, ``max_attempts`` calls in all;
* anything else: returned at once, ``permanent`` when resending the same
  message to the same person cannot succeed (45015 window closed, 43004 not
  following, 40003 bad openid, ...).

Neither the AppSecret nor any token value is ever logged; URLs are logged
without their query string.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from bot.config import WechatConfig
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

log = logging.getLogger("lianxin.senders.wechat")

# The platform did not accept the access token: refresh it and retry once.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Worth another try after a short wait.
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011})

# errcode -> (readable reason, permanent). permanent = resending this message to
# this person will not work (a later, different interaction may open the window).
KNOWN_ERRORS: dict[int, tuple[str, bool]] = {
    -1: ("微信系统繁忙", False),
    40001: ("access_token 无效或不是最新", False),
    40003: ("openid 无效（不是本公众号的用户）", True),
    40014: ("access_token 不合法", False),
    40037: ("模板 ID 无效", True),
    40164: ("调用接口的 IP 不在公众号的白名单中", False),
    42001: ("access_token 已过期", False),
    43004: ("用户未关注公众号", True),
    43101: ("用户拒绝接收消息", True),
    44002: ("请求内容为空", True),
    44004: ("文本消息内容为空", True),
    45002: ("消息内容超过长度限制", True),
    45009: ("接口调用超过频率限制", False),
    45011: ("接口调用太频繁，请稍后再试", False),
    45015: ("超出 48 小时回复时限，或用户已取消关注", True),
    45047: ("客服消息下行条数超过上限", False),
    47001: ("请求数据格式错误", True),
    48001: ("公众号没有该接口的权限", False),
}

# Errors of the stable_token call itself (configuration, not the recipient).
TOKEN_FETCH_ERRORS: dict[int, str] = {
    40002: "grant_type 不合法",
    40013: "AppID 无效",
    40125: "AppSecret 无效",
    40164: "调用接口的 IP 不在公众号的白名单中",
    41002: "缺少 AppID",
    41004: "缺少 AppSecret",
    45009: "获取 access_token 超过频率限制",
}

# WeChat asks for ≥30 s between forced refreshes (and allows 20 a day).
FORCE_REFRESH_INTERVAL = 30.0


class WechatTokenError(TokenError):
    """stable_token did not give a token (code None for transport failures)."""


CAPABILITIES = Capabilities(
    reply=True,
    push_user=True,
    push_group=False,
    note="客服消息仅限粉丝最后一次互动后48小时内（5条）；模板消息不限；不能发到微信群",
)


class WechatSender(TokenSender):
    capabilities = CAPABILITIES
    platform = "wechat"
    timeout_reason = "请求微信接口超时"
    connect_reason = "连接微信接口失败"
    config: WechatConfig

    # When the last forced refresh was asked for (time.monotonic()).
    _last_forced: float | None = None

    def _token_key(self) -> str:
        return f"wechat:{self.config.appid}"

    # -- public API ---------------------------------------------------------

    async def send_text(self, user_id: str, text: str) -> SendResult:
        """Customer-service text message (only within 48 h of the user's last action)."""
        body = {"touser": user_id, "msgtype": "text", "text": {"content": text}}
        return await self._send("/cgi-bin/message/custom/send", body)

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Any],
        url: str | None = None,
        *,
        miniprogram: Mapping[str, str] | None = None,
        client_msg_id: str | None = None,
    ) -> SendResult:
        """Template message; ``data`` values may be plain strings or ``{"value": ...}``.

        ``client_msg_id`` makes WeChat drop duplicates of the same openid+id for
        10 minutes; when not given, one is generated so that our own retries
        after a timeout do not deliver the message twice.
        """
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {
                k: dict(v) if isinstance(v, Mapping) else {"value": str(v)} for k, v in data.items()
            },
            "client_msg_id": client_msg_id or uuid.uuid4().hex,
        }
        if url:
            body["url"] = url
        if miniprogram:
            body["miniprogram"] = dict(miniprogram)
        return await self._send("/cgi-bin/message/template/send", body)

    # -- the shared call path ----------------------------------------------

    async def _send(self, path: str, body: dict[str, Any]) -> SendResult:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return await self._call(path, lambda: self._attempt(path, payload))

    async def _attempt(self, path: str, payload: bytes) -> tuple[Outcome, str | None]:
        """One try: get a token, POST. Returns the outcome and the token used."""
        token = await self._token()
        if isinstance(token, Outcome):
            return token, None
        reply = await self._post(f"{self.api_base}{path}", payload, params={"access_token": token})
        if isinstance(reply, Outcome):
            return reply, token
        return self._classify(*reply), token

    @staticmethod
    def _classify(status: int, raw: bytes) -> Outcome:
        outcome, _ = errcode_outcome(
            status,
            raw,
            api="微信接口",
            known=KNOWN_ERRORS,
            transient=TRANSIENT_ERRORS,
            token_errors=TOKEN_ERRORS,
        )
        return outcome

    # -- access token ------------------------------------------------------

    async def _replace_token(self, stale: str) -> tuple[str, float]:
        return await self._fetch_token(stale)

    async def _fetch_token(self, stale: str | None = None) -> tuple[str, float]:
        """stable_token in normal mode; forced only if WeChat insists on a rejected token.

        WeChat recommends force_refresh only for leaked tokens (20 a day, 30 s
        apart) and a forced refresh invalidates the token every other holder
        uses, so a rejected token first gets a normal-mode call: that returns
        the current token when someone else (another process, another server
        without our database) already rotated it.
        """
        token, expires_in = await self._stable_token(force=False)
        if stale is None or token != stale:
            return token, expires_in
        now = time.monotonic()
        if self._last_forced is not None and now - self._last_forced < FORCE_REFRESH_INTERVAL:
            log.warning(
                "token for %s still rejected; forced refresh skipped (30 s rule)", self.token_key
            )
            return token, expires_in
        self._last_forced = now
        log.warning("token for %s rejected but still current: forcing a refresh", self.token_key)
        return await self._stable_token(force=True)

    async def _stable_token(self, *, force: bool) -> tuple[str, float]:
        body = {
            "grant_type": "client_credential",
            "appid": self.config.appid,
            "secret": self.config.secret,
            "force_refresh": force,
        }
        status, data = await read_token_reply(
            self.session.post(
                f"{self.api_base}/cgi-bin/stable_token", json=body, timeout=self.timeout
            ),
            WechatTokenError,
        )
        if not isinstance(data, dict):
            raise WechatTokenError(None, f"无法解析的回答（HTTP {status}）", transient=True)
        token = data.get("access_token")
        if isinstance(token, str) and token:
            return token, token_lifetime(data)
        errcode = data.get("errcode")
        errmsg = str(data.get("errmsg", ""))
        text = (
            TOKEN_FETCH_ERRORS.get(errcode, "微信接口返回错误")
            if isinstance(errcode, int)
            else ("回答中没有 access_token")
        )
        reason = f"{text}（{errmsg}）" if errmsg else text
        raise WechatTokenError(
            errcode if isinstance(errcode, int) else None,
            reason,
            transient=errcode in TRANSIENT_ERRORS,
        )


def build(
    config: WechatConfig, session: aiohttp.ClientSession, tokens: TokenCache
) -> Sender | None:
    """The sender for late replies and pushes; needs the AppID and AppSecret."""
    if not (config.appid and config.secret):
        return None
    return WechatSender(config, session, tokens)
