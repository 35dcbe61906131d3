"""A fake api.weixin.qq.com for tests: stable_token, custom/send, template/send.

It follows WeChat's published behaviour closely enough to exercise the sender:

* ``POST /cgi-bin/stable_token`` checks grant_type/appid/secret (40002, 41002,
  41004, 40013, 40125) and issues "TOKEN-1", "TOKEN-2", ... (expires_in 7200).
  Normal mode returns the current token while it is valid (with the remaining
  lifetime); ``force_refresh: true`` issues a new one and invalidates the old.
* The message endpoints read ``access_token`` from the query: missing → 41001,
  malformed → 40014, unknown or superseded → 40001, expired → 42001. Bodies are
  validated (empty → 44002, bad shape → 47001, empty text → 44004, unknown
  msgtype → 40008). With ``subscribers`` set, custom/send to anyone else gets
  45015 and template/send gets 43004.
* Every request is recorded (``requests``); accepted messages land in
  ``delivered``.
* Scripted trouble for the next calls: ``fail_next``, ``http_error_next``,
  ``delay_next`` (by default for the message endpoints; pass ``path`` to target
  one endpoint, e.g. ``FakeWechatAPI.TOKEN_PATH``).

Use it with pytest-aiohttp (``await fake.serve(aiohttp_server)``) or on its own::

    async with FakeWechatAPI() as fake:
        config.api_base = fake.base_url
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeErrcodeAPI, RecordedRequest, Token, json_response

CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
TOKEN_PATH = "/cgi-bin/stable_token"


# Published errmsg texts for the codes the fake can produce by itself.
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


def _err(errcode: int, errmsg: str | None = None, **extra: Any) -> web.Response:
    msg = ERRMSG.get(errcode, "error") if errmsg is None else errmsg
    return json_response({"errcode": errcode, "errmsg": msg, **extra})


class FakeWechatAPI(FakeErrcodeAPI):
    TOKEN_PATH = TOKEN_PATH
    ERRMSG = ERRMSG
    _error = staticmethod(_err)
    CUSTOM_SEND = CUSTOM_SEND
    TEMPLATE_SEND = TEMPLATE_SEND

    def __init__(
        self,
        appid: str = "wxfake0000000001",
        secret: str = "fake-app-secret",
        *,
        token_ttl: int = 7200,
        subscribers: Iterable[str] = (),
        templates: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.appid = appid
        self.secret = secret
        self.token_ttl = token_ttl
        # When non-empty, only these openids may receive messages.
        self.subscribers: set[str] = set(subscribers)
        # When non-empty, only these template ids exist.
        self.templates: set[str] = set(templates)
        # Message bodies the fake accepted (errcode 0), in order.
        self.delivered: list[dict[str, Any]] = []
        self.app.router.add_post(TOKEN_PATH, self._stable_token)
        self.app.router.add_post(CUSTOM_SEND, self._custom_send)
        self.app.router.add_post(TEMPLATE_SEND, self._template_send)

    # -- scripting -----------------------------------------------------------

    def revoke_tokens(self) -> None:
        """Every issued token is now invalid (40001), as after a force refresh elsewhere."""
        for tok in self._tokens.values():
            tok.state = "revoked"
        self._current = None

    def issue_token(self) -> str:
        """Issue a token outside any request (as another server would); returns it."""
        return self._issue().value

    # -- handlers ------------------------------------------------------------

    def _issue(self) -> Token:
        # A forced refresh (or another server's) supersedes a still-valid token.
        if self._current is not None and self._current.state == "valid":
            self._current.state = "revoked"
        self._issued += 1
        tok = Token(f"TOKEN-{self._issued}", time.monotonic())
        self._tokens[tok.value] = tok
        self._current = tok
        return tok

    async def _stable_token(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        scripted = await self._scripted(request.path)
        if scripted is not None:
            return scripted
        data = rec.json
        if not isinstance(data, dict):
            return _err(47001) if rec.body else _err(44002)
        if data.get("grant_type") != "client_credential":
            return _err(40002)
        if not data.get("appid"):
            return _err(41002)
        if not data.get("secret"):
            return _err(41004)
        if data["appid"] != self.appid:
            return _err(40013)
        if data["secret"] != self.secret:
            return _err(40125)
        cur = self._current
        if data.get("force_refresh") is True or cur is None or cur.state != "valid":
            cur = self._issue()
        remaining = max(1, int(self.token_ttl - (time.monotonic() - cur.issued)))
        return json_response({"access_token": cur.value, "expires_in": remaining})

    def _check_token(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token")
        if not token:
            return _err(41001)
        if not token.startswith("TOKEN-"):
            return _err(40014)
        tok = self._tokens.get(token)
        if tok is None or tok.state == "revoked":
            return _err(40001)
        if tok.state == "expired":
            return _err(42001)
        return None

    async def _message(self, request: web.Request) -> tuple[RecordedRequest, web.Response | None]:
        """Common part of the message endpoints: record, scripts, token, JSON object."""
        rec = await self._record(request)
        problem = await self._scripted(request.path)
        if problem is None:
            problem = self._check_token(request)
        if problem is None and not rec.body:
            problem = _err(44002)
        if problem is None and not isinstance(rec.json, dict):
            problem = _err(47001)
        if problem is None and not _nonempty_str(rec.json.get("touser")):
            problem = _err(40003)
        return rec, problem

    async def _custom_send(self, request: web.Request) -> web.Response:
        rec, problem = await self._message(request)
        if problem is not None:
            return problem
        body = rec.json
        msgtype = body.get("msgtype")
        if not _nonempty_str(msgtype):
            return _err(47001)
        if msgtype == "text":
            text = body.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("content"), str):
                return _err(47001)
            if not text["content"]:
                return _err(44004)
        elif msgtype in ("image", "voice", "video", "music", "news", "mpnews", "msgmenu"):
            if not isinstance(body.get(msgtype), dict):
                return _err(47001)
        else:
            return _err(40008)
        if self.subscribers and body["touser"] not in self.subscribers:
            return _err(45015)
        self.delivered.append(body)
        return _err(0, "ok")

    async def _template_send(self, request: web.Request) -> web.Response:
        rec, problem = await self._message(request)
        if problem is not None:
            return problem
        body = rec.json
        template_id = body.get("template_id")
        if not _nonempty_str(template_id):
            return _err(47001)
        if self.templates and template_id not in self.templates:
            return _err(40037)
        data = body.get("data", {})
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values()
        ):
            return _err(47001)
        if self.subscribers and body["touser"] not in self.subscribers:
            return _err(43004)
        self.delivered.append(body)
        return _err(0, "ok", msgid=1000 + len(self.delivered))


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)
