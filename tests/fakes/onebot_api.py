"""A fake OneBot v11 HTTP API (the bot → go-cqhttp/NapCat direction) for tests.

Follows botuniverse/onebot-11 ``communication/http.md``,
``communication/authorization.md`` and ``api/public.md`` (shared/protocols.md §3):

* Actions ``/send_private_msg {user_id, message, auto_escape}``,
  ``/send_group_msg {group_id, message, auto_escape}`` and ``/send_msg
  {message_type?, user_id|group_id, message}``, by GET (query) or POST (JSON or
  form); a ``_async`` suffix answers ``{"status":"async","retcode":1}``.
* With ``access_token`` set: ``Authorization: Bearer <token>`` (also ``Token``)
  or ``?access_token=``; none → 401, a wrong one → 403. Then an unknown action
  → 404, an unsupported POST Content-Type → 406, a body that is not JSON / a
  JSON object → 400. Missing or bad parameters → 200 with ``retcode`` 100.
* Success: ``{"status":"ok","retcode":0,"data":{"message_id":N}}`` with N
  counting up from ``first_message_id``.
* Every request is recorded (``requests``); accepted messages land in
  ``delivered`` as ``{"message_type", "user_id"|"group_id", "message",
  "auto_escape"}``.
* Scripted trouble for the next calls: ``fail_next(retcode)`` (status
  "failed"), ``http_error_next(status)``, ``delay_next(seconds)``.

Use it with pytest-aiohttp (``await fake.serve(aiohttp_server)``) or on its own::

    async with FakeOnebotAPI(access_token="t") as fake:
        config.onebot.api_url = fake.base_url
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.base import FakeAPI, Script, json_response

SEND_PRIVATE = "/send_private_msg"
SEND_GROUP = "/send_group_msg"
SEND_MSG = "/send_msg"
ACTIONS = (SEND_PRIVATE, SEND_GROUP, SEND_MSG)


class FakeOnebotAPI(FakeAPI):
    SEND_PRIVATE = SEND_PRIVATE
    SEND_GROUP = SEND_GROUP
    SEND_MSG = SEND_MSG

    def __init__(self, access_token: str = "", *, first_message_id: int = 1000) -> None:
        super().__init__()
        self.access_token = access_token
        self.delivered: list[dict[str, Any]] = []
        self._next_id = first_message_id
        self._hold_after: int | None = None
        self._released = asyncio.Event()
        self.held = 0
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def hold_after(self, count: int) -> None:
        """Post messages as usual, but once `count` are delivered, post the next ones and
        then keep their answers back until `release()`: the platform has the message,
        the bot does not know yet (to stop a process at a known point of a fan-out)."""
        self._hold_after = count
        self._released.clear()

    def release(self) -> None:
        self._hold_after = None
        self._released.set()

    # -- scripting -----------------------------------------------------------

    def fail_next(self, retcode: int = 100, message: str = "", times: int = 1) -> None:
        """Answer the next ``times`` actions with status "failed" and this retcode."""
        reason = message or "scripted failure"
        answer = partial(_result, "failed", retcode, None, reason)
        self._script(Script(None, "fail", answer=answer), times)

    # http_error_next, delay_next, clear_scripts: FakeAPI (every action; no path here).

    # -- handling ------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        body = rec.body
        if request.method not in ("GET", "POST"):
            return web.Response(status=405)
        denied = self._check_token(request)
        if denied is not None:
            return denied
        path = request.path
        is_async = path.endswith("_async")
        action = path[: -len("_async")] if is_async else path
        if action not in ACTIONS:
            return web.Response(status=404)
        params: dict[str, Any] = {k: v for k, v in request.query.items() if k != "access_token"}
        if request.method == "POST" and body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    parsed = json.loads(body)
                except (ValueError, UnicodeDecodeError):
                    return web.Response(status=400)
                if not isinstance(parsed, dict):
                    return web.Response(status=400)
                params.update(parsed)
            elif ctype == "application/x-www-form-urlencoded":
                try:
                    params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError:
                    return web.Response(status=400)
            else:
                return web.Response(status=406)
        rec.params = params
        scripted = await self._scripted(path)
        if scripted is not None:
            return scripted
        message, problem = _message_params(action, params)
        if problem:
            return _result("failed", 100, None, problem)
        if is_async:
            self.delivered.append(message)
            return _result("async", 1, None)
        self.delivered.append(message)
        message_id = self._next_id
        self._next_id += 1
        if self._hold_after is not None and len(self.delivered) > self._hold_after:
            self.held += 1
            await self._released.wait()
        return _result("ok", 0, {"message_id": message_id})

    def _check_token(self, request: web.Request) -> web.Response | None:
        if not self.access_token:
            return None
        auth = request.headers.get("Authorization")
        if auth is not None:
            scheme, _, token = auth.strip().partition(" ")
            if scheme.lower() not in ("bearer", "token"):
                token = ""
        else:
            token = request.query.get("access_token")
        if token is None:
            return web.Response(status=401)
        if token.strip() != self.access_token:
            return web.Response(status=403)
        return None

    def _http_error(self, status: int) -> web.Response:
        return web.Response(status=status, text=f"{status}")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _message_params(action: str, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The normalised message to deliver, or an error text (retcode 100)."""
    message = params.get("message")
    if isinstance(message, str):
        if not message:
            return {}, "message is empty"
    elif isinstance(message, list):
        if not message or not all(
            isinstance(s, dict) and isinstance(s.get("type"), str) for s in message
        ):
            return {}, "message segments are invalid"
    else:
        return {}, "message is missing"
    if action == SEND_PRIVATE:
        kind = "private"
    elif action == SEND_GROUP:
        kind = "group"
    else:
        kind = params.get("message_type") or ("group" if "group_id" in params else "private")
        if kind not in ("private", "group"):
            return {}, f"unknown message_type {kind!r}"
    key = "group_id" if kind == "group" else "user_id"
    target = _as_int(params.get(key))
    if target is None:
        return {}, f"{key} is missing or not a number"
    return {
        "message_type": kind,
        key: target,
        "message": message,
        "auto_escape": _as_bool(params.get("auto_escape", False)),
    }, ""


def _result(status: str, retcode: int, data: Any, message: str = "") -> web.Response:
    payload: dict[str, Any] = {"status": status, "retcode": retcode, "data": data}
    if message:
        payload["msg"] = message
        payload["wording"] = message
    return json_response(payload)
