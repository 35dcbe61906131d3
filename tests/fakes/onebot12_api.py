"""A fake OneBot 12 implementation (a personal-WeChat bridge like ComWeChatBotClient) for tests.

Both directions, from botuniverse/onebot ``specs/connect/communication/http.md``,
``http-webhook.md``, ``connect/data-protocol/{event,action-request,action-response}.md``
and ComWeChatBotClient ``docs/`` (shared/protocols.md, "OneBot 12"):

* **Events** (``post_event``): POSTs an event to the bot's webhook with
  ``Content-Type: application/json``, ``User-Agent``, ``X-OneBot-Version: 12``,
  ``X-Impl`` and ``Authorization: Bearer <webhook_token>`` (or the
  ``access_token`` query parameter with ``token_in_query``). A ``200`` answer is
  read as a list of action requests and performed like actions on the HTTP
  endpoint — unless ``discard_response_body`` (ComWeChatBotClient's webhook
  client drops it). Builders: `message_event`, `heartbeat`, `status_update`,
  `connect`.
* **Actions** (the HTTP endpoint, POST ``/``): ``access_token`` set → the
  ``Authorization`` header must be ``Bearer <token>``, else 401; a Content-Type
  other than application/json → 415; then every error is a 200 action
  response: a body that is not a JSON object with a string ``action`` → 10001,
  an action other than ``send_message`` → 10002, bad params → 10003, a segment
  type outside ``segments`` → 10005, bad segment data → 10006, no ``self`` while
  serving several bots → 10101, an unknown ``self`` → 10102. Success:
  ``{"status": "ok", "retcode": 0, "data": {"message_id", "time"}, "message":
  "", "echo"}``.
* ``delivered``: every message sent, as ``{"detail_type", "group_id"|"user_id",
  "message", "text", "mentions", "via"}`` (via: "action" or "response").
* Scripted trouble for the next actions: ``fail_next(retcode, message)``,
  ``http_error_next(status)``, ``delay_next(seconds)``.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from functools import partial
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeAPI, Script, json_response

# What ComWeChatBotClient can send (docs/message/README.md).
COMWECHAT_SEGMENTS = frozenset(
    {"text", "mention", "mention_all", "image", "file", "wx.emoji", "wx.link"}
)


class FakeOnebot12(FakeAPI):
    def __init__(
        self,
        access_token: str = "",
        *,
        webhook_token: str = "",
        platform: str = "wechat",
        bots: tuple[str, ...] = ("wxid_bot",),
        impl: str = "ComWeChat",
        segments: frozenset[str] = COMWECHAT_SEGMENTS,
        discard_response_body: bool = True,
        token_in_query: bool = False,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.webhook_token = webhook_token
        self.platform = platform
        self.bots = bots
        self.impl = impl
        self.segments = segments
        self.discard_response_body = discard_response_body
        self.token_in_query = token_in_query
        self.delivered: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    # -- scripting -----------------------------------------------------------

    def fail_next(self, retcode: int, message: str = "", times: int = 1) -> None:
        """Answer the next ``times`` actions with status "failed" and this retcode."""
        answer = partial(_response, "failed", retcode, None, message or "scripted failure", "")
        self._script(Script(None, "fail", answer=answer), times)

    # -- events (implementation → bot) ---------------------------------------

    def message_event(
        self,
        message: str | list[dict[str, Any]],
        *,
        user: str,
        group: str | None = None,
        bot: str | None = None,
        event_id: str | None = None,
        at: float | None = None,
        mention_bot: bool = False,
    ) -> dict[str, Any]:
        """A ``message`` event as ComWeChat posts it (a group one when ``group`` is given)."""
        self_user = bot or self.bots[0]
        segments = (
            [{"type": "text", "data": {"text": message}}]
            if isinstance(message, str)
            else list(message)
        )
        if mention_bot:
            segments.insert(0, {"type": "mention", "data": {"user_id": self_user}})
        event: dict[str, Any] = {
            "id": event_id or str(uuid.uuid4()),
            "time": time.time() if at is None else at,
            "type": "message",
            "detail_type": "group" if group else "private",
            "sub_type": "",
            "self": {"platform": self.platform, "user_id": self_user},
            "message_id": str(next(self._ids) + 7000),
            "message": segments,
            "alt_message": "".join(
                s["data"].get("text", f"[{s['type']}]") for s in segments if "data" in s
            ),
            "user_id": user,
        }
        if group:
            event["group_id"] = group
        return event

    def _meta(self, detail: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "time": time.time(),
            "type": "meta",
            "detail_type": detail,
            "sub_type": "",
            **fields,
        }

    def heartbeat(self, interval_ms: int = 5000) -> dict[str, Any]:
        return self._meta("heartbeat", interval=interval_ms)

    def status_update(self, online: bool = True, good: bool = True) -> dict[str, Any]:
        bots = [
            {"self": {"platform": self.platform, "user_id": b}, "online": online} for b in self.bots
        ]
        return self._meta("status_update", status={"good": good, "bots": bots})

    def connect(self, version: str = "1.2.0") -> dict[str, Any]:
        return self._meta(
            "connect", version={"impl": self.impl, "version": version, "onebot_version": "12"}
        )

    async def post_event(
        self,
        client: Any,
        event: dict[str, Any] | bytes,
        *,
        path: str = "/onebot12",
        token: str | None = None,
        version: str | None = "12",
    ) -> tuple[int, bytes]:
        """POST one event to the bot (``client``: pytest-aiohttp's test client)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"OneBot/12 ({self.platform}) {self.impl}/1.2.0",
            "X-Impl": self.impl,
        }
        if version is not None:
            headers["X-OneBot-Version"] = version
        token = self.webhook_token if token is None else token
        if token and self.token_in_query:
            path = f"{path}?access_token={token}"
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
        resp = await client.post(path, data=body, headers=headers)
        raw = await resp.read()
        if resp.status == 200 and not self.discard_response_body:
            for request in json.loads(raw):
                self._perform(request, via="response")
        return resp.status, raw

    # -- actions (bot → implementation) ---------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        if request.method != "POST":
            return web.Response(status=405)
        if request.path != "/":
            return web.Response(status=404)
        if self.access_token and request.headers.get("Authorization") != (
            f"Bearer {self.access_token}"
        ):
            return web.Response(status=401)
        if request.content_type != "application/json":
            return web.Response(status=415)
        scripted = await self._scripted(request.path)
        if scripted is not None:
            return scripted
        parsed = rec.json
        if not isinstance(parsed, dict):
            return _response("failed", 10001, None, "bad request", "")
        rec.params = parsed.get("params") if isinstance(parsed.get("params"), dict) else {}
        return self._perform(parsed, via="action")

    def _perform(self, request: Any, *, via: str) -> web.Response:
        echo = request.get("echo", "") if isinstance(request, dict) else ""
        fail = partial(_response, "failed", data=None, echo=echo)
        if not isinstance(request, dict) or not isinstance(request.get("action"), str):
            return fail(retcode=10001, message="bad request")
        if request["action"] != "send_message":
            return fail(retcode=10002, message=f"unsupported action {request['action']}")
        me = request.get("self")
        if me is None and len(self.bots) > 1:
            return fail(retcode=10101, message="who am i")
        if me is not None and (
            not isinstance(me, dict)
            or me.get("platform") != self.platform
            or me.get("user_id") not in self.bots
        ):
            return fail(retcode=10102, message="unknown self")
        params = request.get("params")
        if not isinstance(params, dict):
            return fail(retcode=10003, message="params missing")
        detail = params.get("detail_type")
        key = {"private": "user_id", "group": "group_id"}.get(detail or "")
        if key is None or not isinstance(params.get(key), str) or not params[key]:
            return fail(retcode=10003, message="bad detail_type / id")
        message = params.get("message")
        if not isinstance(message, list) or not message:
            return fail(retcode=10003, message="message missing")
        for seg in message:
            if not isinstance(seg, dict) or not isinstance(seg.get("data"), dict):
                return fail(retcode=10006, message="bad segment")
            if seg.get("type") not in self.segments:
                return fail(retcode=10005, message=f"unsupported segment {seg.get('type')}")
            if seg["type"] == "text" and not isinstance(seg["data"].get("text"), str):
                return fail(retcode=10006, message="text segment without text")
        self.delivered.append(
            {
                "detail_type": detail,
                key: params[key],
                "message": message,
                "text": "".join(s["data"]["text"] for s in message if s["type"] == "text"),
                "mentions": [s["data"].get("user_id") for s in message if s["type"] == "mention"],
                "via": via,
            }
        )
        data = {"message_id": str(next(self._ids) + 9000), "time": time.time()}
        return _response("ok", 0, data, "", echo)


def _response(status: str, retcode: int, data: Any, message: str, echo: str) -> web.Response:
    payload: dict[str, Any] = {
        "status": status,
        "retcode": retcode,
        "data": data,
        "message": message,
    }
    if echo:
        payload["echo"] = echo
    return json_response(payload)
