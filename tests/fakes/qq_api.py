"""A fake QQ bot OpenAPI for tests: getAppAccessToken and the v2 message endpoints.

It follows the published behaviour (shared/protocols.md §4; tencent-connect/bot-docs
``api-use.md``, ``send.md``, ``openapi/error/error.md``) closely enough to exercise
the sender and the channel:

* ``POST /app/getAppAccessToken {"appId", "clientSecret"}`` issues "QQTOKEN-1",
  "QQTOKEN-2", ... and answers ``{"access_token", "expires_in": "<seconds left>"}``
  (a string, as the docs show). Like the platform it hands out the current token
  until 60 s before it expires; then it issues a new one and the old one stays
  valid for those last seconds. Wrong credentials get HTTP 401 with a message
  (the platform's own body for this case is undocumented).
* ``POST /v2/groups/{group_openid}/messages`` and ``/v2/users/{openid}/messages``
  check ``Authorization: QQBot <token>`` (missing → 401 code 11241, unknown →
  401 code 11243, expired → 401 code 11244) and the body: a JSON object with
  ``msg_type`` 0 and a non-empty string ``content`` (else 400 code 12002 / 50006),
  a ``msg_id`` (none → 400 code 50048: active push is gone), ``msg_seq`` a positive
  integer (default 1). A repeated ``msg_id + msg_seq`` gets 400 code 40054005, a
  sixth reply to one ``msg_id`` gets 400 code 22009 (send.md: "超频"), a
  ``msg_id`` in ``expired_msg_ids`` gets 400 code 304027.
* Every request is recorded (``requests``); accepted messages land in
  ``delivered`` (with ``kind`` "group" / "user" and ``target``), and
  ``wait_delivered(n)`` waits (bounded) until there are at least n.
* Scripted trouble for the next calls: ``fail_next`` (a code, 22009 by default),
  ``http_error_next``, ``delay_next`` (by default for the message endpoints; pass
  ``path=FakeQQAPI.TOKEN_PATH`` for the token endpoint), ``slow_answer_next``
  (handled at once, answered late), ``expire_tokens``, and ``hold_messages`` /
  ``release_messages`` (message calls wait in between).

Use it with pytest-aiohttp (``await fake.serve(aiohttp_server)``) or on its own::

    async with FakeQQAPI() as fake:
        config.api_base, config.token_url = fake.base_url, fake.token_url
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeTokenAPI, Script, json_response

TOKEN_PATH = "/app/getAppAccessToken"
GROUP_PATH = "/v2/groups/{openid}/messages"
USER_PATH = "/v2/users/{openid}/messages"

# The messages the fake answers with for the codes it produces by itself.
MESSAGES = {
    11241: "token missing",
    11243: "token invalid",
    11244: "token expired or not exist",
    12002: "request body invalid",
    22009: "msg limit exceed",
    50006: "message is empty",
    50048: "msg_id is empty: active push is no longer offered",
    304027: "msg expired",
    40054005: "duplicate msg_seq for this msg_id",
}

# The platform issues a new token only this close to the old one's expiry (api-use.md).
NEW_TOKEN_WINDOW = 60


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()
    expired: bool = False


class FakeQQAPI(FakeTokenAPI):
    TOKEN_PATH = TOKEN_PATH

    def __init__(
        self,
        appid: str = "102000001",
        secret: str = "fake-qq-bot-secret-0001",
        *,
        token_ttl: int = 7200,
    ) -> None:
        super().__init__()
        self.appid = appid
        self.secret = secret
        self.token_ttl = token_ttl
        # Accepted messages, in order: the body plus "kind" and "target".
        self.delivered: list[dict[str, Any]] = []
        # Replies to these msg_ids are past their window (304027).
        self.expired_msg_ids: set[str] = set()
        self._tokens: dict[str, _Token] = {}
        self._current: _Token | None = None
        self._seqs: dict[str, set[int]] = {}
        self._changed = asyncio.Event()
        self._gate: asyncio.Event | None = None
        self.app.router.add_post(TOKEN_PATH, self._token)
        self.app.router.add_post(GROUP_PATH, self._group_message)
        self.app.router.add_post(USER_PATH, self._user_message)

    # -- what happened -------------------------------------------------------

    @property
    def token_url(self) -> str:
        return f"{self.base_url}{TOKEN_PATH}"

    async def wait_delivered(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages were accepted; TimeoutError otherwise."""

        async def until() -> None:
            while len(self.delivered) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)
        return self.delivered

    # -- scripting -----------------------------------------------------------

    def fail_next(
        self,
        code: int = 22009,
        message: str | None = None,
        times: int = 1,
        *,
        status: int = 400,
        path: str | None = None,
        **extra: Any,
    ) -> None:
        """Answer the next ``times`` calls with HTTP ``status`` and ``{"code", "message"}``."""
        msg = MESSAGES.get(code, "error") if message is None else message
        answer = partial(_err, code, msg, status=status, **extra)
        self._script(Script(path, "fail", status=status, answer=answer), times)

    def hold_messages(self) -> None:
        """Keep message calls waiting (recorded, unanswered) until `release_messages`."""
        self._gate = asyncio.Event()

    def release_messages(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    def slow_answer_next(self, seconds: float, times: int = 1, *, path: str | None = None) -> None:
        """Handle the next ``times`` calls at once but hold the answer for ``seconds``
        (a message that arrived although the caller timed out)."""
        self._script(Script(path, "late", seconds=seconds), times)

    def expire_tokens(self) -> None:
        """Every issued token is now expired (401, 11244); the next fetch issues a new one."""
        for tok in self._tokens.values():
            tok.expired = True
        self._current = None

    # -- handlers ------------------------------------------------------------

    def _late(self, path: str) -> float:
        """Seconds to hold the answer when the next script for this path is "late"."""
        found = self._next_script(path)
        if found is None or found[1].kind != "late":
            return 0.0
        del self._scripts[found[0]]
        return found[1].seconds

    async def _scripted(self, path: str) -> web.Response | None:
        """Apply the first script meant for this path, if any ("late" ones excepted)."""
        found = self._next_script(path)
        if found is not None and found[1].kind == "late":
            return None
        return await super()._scripted(path)

    async def _token(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        scripted = await self._scripted(request.path)
        if scripted is not None:
            return scripted
        data = rec.json
        if (
            not isinstance(data, dict)
            or data.get("appId") != self.appid
            or data.get("clientSecret") != self.secret
        ):
            return json_response({"message": "invalid appid or secret"}, status=401)
        now = time.monotonic()
        cur = self._current
        if cur is None or cur.expired or cur.expires_at - now <= NEW_TOKEN_WINDOW:
            self._issued += 1
            cur = _Token(f"QQTOKEN-{self._issued}", now + self.token_ttl)
            self._tokens[cur.value] = cur
            self._current = cur
        left = max(1, int(cur.expires_at - now))
        return json_response({"access_token": cur.value, "expires_in": str(left)})

    def _check_token(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if not auth:
            return _err(11241, status=401)
        tok = self._tokens.get(value) if scheme == "QQBot" else None
        if tok is None:
            return _err(11243, status=401)
        if tok.expired or time.monotonic() >= tok.expires_at:
            return _err(11244, status=401)
        return None

    async def _group_message(self, request: web.Request) -> web.Response:
        return await self._message(request, "group")

    async def _user_message(self, request: web.Request) -> web.Response:
        return await self._message(request, "user")

    async def _message(self, request: web.Request, kind: str) -> web.Response:
        late = self._late(request.path)
        response = await self._handle_message(request, kind)
        if late:
            await asyncio.sleep(late)
        return response

    async def _handle_message(self, request: web.Request, kind: str) -> web.Response:
        rec = await self._record(request)
        if self._gate is not None:
            await self._gate.wait()
        problem = await self._scripted(request.path)
        if problem is None:
            problem = self._check_token(request)
        if problem is not None:
            return problem
        body = rec.json
        if not isinstance(body, dict) or body.get("msg_type") != 0:
            return _err(12002)
        content = body.get("content")
        if not isinstance(content, str):
            return _err(12002)
        if not content.strip():
            return _err(50006)
        msg_id = body.get("msg_id")
        if not isinstance(msg_id, str) or not msg_id:
            return _err(50048)
        seq = body.get("msg_seq", 1)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            return _err(12002)
        if msg_id in self.expired_msg_ids:
            return _err(304027)
        seen = self._seqs.setdefault(msg_id, set())
        if seq in seen:
            return _err(40054005)
        if len(seen) >= 5:
            return _err(22009)
        seen.add(seq)
        self.delivered.append({**body, "kind": kind, "target": request.match_info["openid"]})
        self._changed.set()
        return json_response({"id": f"MSG-{len(self.delivered)}", "timestamp": int(time.time())})


def _err(code: int, message: str | None = None, *, status: int = 400, **extra: Any) -> web.Response:
    msg = MESSAGES.get(code, "error") if message is None else message
    return json_response({"message": msg, "code": code, "err_code": code, **extra}, status=status)
