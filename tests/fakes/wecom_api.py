"""A fake qyapi.weixin.qq.com for tests: gettoken, message/send, appchat/send, webhook/send.

It follows WeCom's published behaviour (shared/protocols.md §2, the global error
code list) closely enough to exercise the sender:

* ``GET /cgi-bin/gettoken?corpid=&corpsecret=`` checks the credentials (41002 /
  41004 missing, 40013 wrong corp id, 40001 wrong secret) and issues
  "WTOKEN-1", "WTOKEN-2", ... (expires_in 7200). Like WeCom it hands out the
  same token again while that one is valid, and a new one once it expired or
  was invalidated.
* The app endpoints read ``access_token`` from the query: missing → 41001,
  unknown or invalidated → 40014, expired → 42001.
* ``message/send`` validates the body (JSON object 40058, agentid missing 41011
  or wrong 40056, msgtype 40008, text 40058 / empty 44004). With ``members``
  set, a recipient outside it is listed in ``invaliduser``; when no recipient
  is left the answer is 81013.
* ``appchat/send``: chatid missing → 86001; with ``chats`` set, an unknown chat
  → 86003; a chat in ``foreign_chats`` (not created by this app) → 86008.
* ``webhook/send?key=``: a key not in ``robot_keys`` → 93000; markdown over 4096
  bytes → 40058; with ``robot_limit`` set, more than that many messages per
  robot in ``robot_window`` seconds → 45009 "api freq out of limit".
* Every request is recorded (``requests``, with its arrival time ``at``);
  accepted messages land in ``delivered``.
* Scripted trouble for the next calls: ``fail_next`` (any errcode, plus extra
  fields such as ``invaliduser``), ``http_error_next``, ``delay_next`` (by default
  for the message endpoints; pass ``path`` to target one, e.g.
  ``FakeWecomAPI.TOKEN_PATH``), ``expire_tokens``, ``invalidate_tokens``.

Use it with pytest-aiohttp (``await fake.serve(aiohttp_server)``) or on its own::

    async with FakeWecomAPI() as fake:
        config.api_base = fake.base_url
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeErrcodeAPI, RecordedRequest, Token, json_response

TOKEN_PATH = "/cgi-bin/gettoken"
MESSAGE_SEND = "/cgi-bin/message/send"
APPCHAT_SEND = "/cgi-bin/appchat/send"
WEBHOOK_SEND = "/cgi-bin/webhook/send"


# errmsg texts as WeCom writes them (without the "hint: [...]" tail).
ERRMSG = {
    -1: "system busy",
    0: "ok",
    40001: "invalid credential",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40056: "invalid agentid",
    40058: "invalid parameter",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41011: "agentid missing",
    42001: "access_token expired",
    44004: "empty content",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    81013: "user & party & tag all invalid",
    86001: "invalid chatid",
    86003: "chatid not exist",
    86008: "not allow to operate the chat which is not created by this app",
    93000: "invalid webhook url",
}


def _err(errcode: int, errmsg: str | None = None, **extra: Any) -> web.Response:
    msg = ERRMSG.get(errcode, "error") if errmsg is None else errmsg
    if errcode != 0:
        msg = f"{msg}, hint: [1700000000_fake_{errcode}], from ip: 127.0.0.1, more info at "
        msg += f"https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    return json_response({"errcode": errcode, "errmsg": msg, **extra})


class FakeWecomAPI(FakeErrcodeAPI):
    TOKEN_PATH = TOKEN_PATH
    ERRMSG = ERRMSG
    _error = staticmethod(_err)
    MESSAGE_SEND = MESSAGE_SEND
    APPCHAT_SEND = APPCHAT_SEND
    WEBHOOK_SEND = WEBHOOK_SEND

    def __init__(
        self,
        corp_id: str = "wwfake00000000001",
        secret: str = "fake-corp-secret",
        agent_id: int = 1000002,
        *,
        token_ttl: int = 7200,
        members: Iterable[str] = (),
        chats: Iterable[str] = (),
        foreign_chats: Iterable[str] = (),
        robot_keys: Iterable[str] = ("robot-key-1",),
        robot_limit: int | None = None,
        robot_window: float = 60.0,
    ) -> None:
        super().__init__()
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.token_ttl = token_ttl
        # When non-empty, only these UserIDs may receive app messages.
        self.members: set[str] = set(members)
        # When non-empty, only these chat ids exist (created by the app).
        self.chats: set[str] = set(chats)
        # Chats that exist but another app (or a person) created: 86008.
        self.foreign_chats: set[str] = set(foreign_chats)
        self.robot_keys: set[str] = set(robot_keys)
        self.robot_limit = robot_limit
        self.robot_window = robot_window
        # Requests the fake accepted (errcode 0), in order.
        self.delivered: list[RecordedRequest] = []
        self._robot_sent: dict[str, deque[float]] = defaultdict(deque)
        self.app.router.add_get(TOKEN_PATH, self._gettoken)
        self.app.router.add_post(MESSAGE_SEND, self._message_send)
        self.app.router.add_post(APPCHAT_SEND, self._appchat_send)
        self.app.router.add_post(WEBHOOK_SEND, self._webhook_send)

    # -- what happened -------------------------------------------------------

    def delivered_to(self, path: str) -> list[dict[str, Any]]:
        """Bodies of the accepted requests to one endpoint."""
        return [r.json for r in self.delivered if r.path == path]

    # -- scripting -----------------------------------------------------------

    def invalidate_tokens(self) -> None:
        """Every issued token is now invalid (40014); gettoken issues a new one."""
        for tok in self._tokens.values():
            tok.state = "invalid"

    # -- handlers ------------------------------------------------------------

    def _issue(self) -> Token:
        self._issued += 1
        tok = Token(f"WTOKEN-{self._issued}", time.monotonic())
        self._tokens[tok.value] = tok
        self._current = tok
        return tok

    async def _gettoken(self, request: web.Request) -> web.Response:
        await self._record(request)
        scripted = await self._scripted(request.path)
        if scripted is not None:
            return scripted
        corpid = request.query.get("corpid", "")
        secret = request.query.get("corpsecret", "")
        if not corpid:
            return _err(41002)
        if not secret:
            return _err(41004)
        if corpid != self.corp_id:
            return _err(40013)
        if secret != self.secret:
            return _err(40001)
        cur = self._current
        if cur is None or cur.state != "valid":
            cur = self._issue()
        remaining = max(1, int(self.token_ttl - (time.monotonic() - cur.issued)))
        return json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": cur.value, "expires_in": remaining}
        )

    def _check_token(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token")
        if not token:
            return _err(41001)
        tok = self._tokens.get(token)
        if tok is None or tok.state == "invalid":
            return _err(40014)
        if tok.state == "expired":
            return _err(42001)
        return None

    async def _app_call(self, request: web.Request) -> tuple[RecordedRequest, web.Response | None]:
        """Common part of the app endpoints: record, scripts, token, JSON object."""
        rec = await self._record(request)
        problem = await self._scripted(request.path)
        if problem is None:
            problem = self._check_token(request)
        if problem is None and not isinstance(rec.json, dict):
            problem = _err(40058)
        return rec, problem

    @staticmethod
    def _text_problem(body: dict[str, Any]) -> web.Response | None:
        msgtype = body.get("msgtype")
        if msgtype == "text":
            text = body.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("content"), str):
                return _err(40058)
            if not text["content"]:
                return _err(44004)
            return None
        if msgtype == "markdown":
            md = body.get("markdown")
            if not isinstance(md, dict) or not isinstance(md.get("content"), str):
                return _err(40058)
            if not md["content"]:
                return _err(44004)
            if len(md["content"].encode("utf-8")) > 4096:
                return _err(40058, "markdown.content exceed max length 4096")
            return None
        return _err(40008)

    def _accept(self, rec: RecordedRequest, **extra: Any) -> web.Response:
        self.delivered.append(rec)
        return _err(0, "ok", **extra)

    async def _message_send(self, request: web.Request) -> web.Response:
        rec, problem = await self._app_call(request)
        if problem is not None:
            return problem
        body = rec.json
        if "agentid" not in body:
            return _err(41011)
        if body["agentid"] != self.agent_id:
            return _err(40056)
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            return _err(40058)
        problem = self._text_problem(body)
        if problem is not None:
            return problem
        users = touser.split("|")
        invalid = [u for u in users if self.members and u != "@all" and u not in self.members]
        if invalid and len(invalid) == len(users):
            return _err(81013, invaliduser="|".join(invalid))
        msgid = f"msg-{len(self.delivered) + 1}"
        return self._accept(rec, invaliduser="|".join(invalid), msgid=msgid)

    async def _appchat_send(self, request: web.Request) -> web.Response:
        rec, problem = await self._app_call(request)
        if problem is not None:
            return problem
        body = rec.json
        chatid = body.get("chatid")
        if not isinstance(chatid, str) or not chatid:
            return _err(86001)
        if chatid in self.foreign_chats:
            return _err(86008)
        if self.chats and chatid not in self.chats:
            return _err(86003)
        problem = self._text_problem(body)
        if problem is not None:
            return problem
        return self._accept(rec)

    async def _webhook_send(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        problem = await self._scripted(request.path)
        if problem is not None:
            return problem
        key = request.query.get("key", "")
        if key not in self.robot_keys:
            return _err(93000)
        if not isinstance(rec.json, dict):
            return _err(40058)
        problem = self._text_problem(rec.json)
        if problem is not None:
            return problem
        if self.robot_limit is not None:
            sent = self._robot_sent[key]
            now = time.monotonic()
            while sent and now - sent[0] >= self.robot_window:
                sent.popleft()
            if len(sent) >= self.robot_limit:
                return _err(45009)
            sent.append(now)
        return self._accept(rec)
