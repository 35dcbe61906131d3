"""OneBot 12 HTTP Webhook（个人微信桥接 ComWeChatBotClient 等，及 v12 的 QQ 实现）：POST /onebot12。

Sources: botuniverse/onebot ``specs/connect/communication/http-webhook.md``,
``connect/data-protocol/event.md``, ``interface/message/*``,
``interface/meta/events.md``; JustUndertaker/ComWeChatBotClient ``docs/``
(shared/protocols.md, "OneBot 12").

Request checks, in order (each refusal counted by `Channel.reject`):

* ``onebot12.access_token`` set → ``Authorization: Bearer <token>``, or the
  ``access_token`` query parameter when the implementation cannot set headers,
  compared in constant time: none → 401, another → 403.
* ``X-OneBot-Version`` must be ``12`` (the standard makes the header
  mandatory): missing or another version → 400.
* Body: a JSON object with string ``id``, ``type`` and ``detail_type`` and a
  number ``time``, else 400.

Events:

* ``message`` (``private`` / ``group``) needs ``self {platform, user_id}``,
  ``message_id``, ``user_id`` (and ``group_id``), else 400; older than
  ``stale_seconds`` by its ``time`` → 403 ``stale_event`` (a replay or a
  backlog; the implementation logs it and goes on). The bot's own messages
  (``user_id == self.user_id``) → 204. Otherwise it becomes an `Inbound`:
  platform ``onebot12``, user ``<self.platform>:<user_id>``, chat
  ``<self.platform>:<group_id>`` — so a WeChat wxid reached through a bridge is
  the person ``onebot12:wechat:<wxid>``, never confused with an Official
  Account openid (``wechat:…``), a OneBot v11 QQ number (``onebot:…``) or the
  same number through a v12 QQ implementation (``onebot12:qq:…``); the same
  strings are the push targets. The dedup key is (self.platform,
  self.user_id, event id).
* Replies: the webhook is answered 204 at once and the replies go out through
  the implementation's HTTP action endpoint (``send_message``, see
  bot/senders/onebot12.py), each recorded as a Delivery row
  (``purpose="reply"``). With ``onebot12.reply_in_response`` the same actions
  come back in a 200 answer instead (the standard allows it, but
  ComWeChatBotClient's webhook client discards the body, so it is opt-in).
  A retry of an event already being answered here → 204, nothing sent again.
* ``meta`` (``connect``, ``heartbeat``, ``status_update``) is recorded: which
  implementations and bot accounts are online (`Bridges`, shown in /healthz and
  ``lianxin channels``) → 204. ``notice``, ``request`` → 204.

Segments: ``text`` is read; a ``mention`` of ``self.user_id`` sets
mentioned_bot, any other mention stays as ``@id``; ``mention_all``, ``reply``
and the ``wx.``-prefixed extensions (``wx.emoji``, ``wx.link``, ``wx.app`` …)
add nothing; a message without text but with ``image``/``voice``/``audio``/
``video``/``file``/``location`` gets that kind (the dispatcher says it reads
text only). ``alt_message`` is used only when ``message`` is not a list.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.channels.base import Channel
from bot.channels.cqcode import as_segments
from bot.channels.onebot import MEDIA_KINDS as V11_MEDIA_KINDS
from bot.channels.onebot import limit_reply, segments_content
from bot.channels.onebot12_bridges import Bridges
from bot.inbound import Inbound, Reply
from bot.senders.onebot12 import (
    Onebot12Sender,
    action_request,
    message_params,
    text_segments,
)
from bot.targets import Target
from models.bridges import Onebot12Bridge

log = logging.getLogger("lianxin.onebot12")

# OneBot 12 segment type → Inbound.kind for a message with no text.
MEDIA_KINDS = {**V11_MEDIA_KINDS, "voice": "voice", "audio": "voice"}
# Event ids answered (or being answered) here: a retry of one is answered 204.
ANSWERED_SECONDS = 600.0
ANSWERED_SIZE = 10_000
# inbound_event.event_key is 191 characters.
MAX_EVENT_KEY = 191

_JSON = "application/json"


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _str_id(value: Any) -> str:
    """An id as v12 sends it (a string; an integer from a lax implementation is accepted)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def message_content(message: Any, alt: Any, self_user: str) -> tuple[str, bool, str]:
    """(text, mentioned_bot, kind) of a v12 ``message`` (segment list); ``alt_message``
    only when there is no list. ``mention_all``, ``reply`` and ``wx.*`` add nothing."""
    if not isinstance(message, list):
        return (alt.strip() if isinstance(alt, str) else ""), False, "text"
    return segments_content(
        as_segments(message),
        self_user,
        mention=("mention", "user_id"),
        media_kinds=MEDIA_KINDS,
    )


class Onebot12Channel(Channel):
    name = "onebot12"
    path = "/onebot12"

    def __init__(self, runtime: Any) -> None:
        super().__init__(runtime)
        cfg = runtime.config.onebot12
        self._token = cfg.access_token.encode("utf-8")
        self.stale_seconds = float(cfg.stale_seconds)
        self.reply_in_response = cfg.reply_in_response
        # Wall clock for the stale check (tests pin it); event times are the bridge's.
        self.clock: Callable[[], float] = time.time
        self.bridges = Bridges(self.clock)
        self._answered: OrderedDict[str, float] = OrderedDict()
        self._echo = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.path, self.handle)]

    async def startup(self) -> None:
        if not self._token:
            log.warning(
                "onebot12.access_token is not set: anyone who can reach %s can post events",
                self.path,
            )

    def health(self) -> dict[str, Any]:
        return {"onebot12_bridges": self.bridges.online()}

    def _store(self, bridge: Onebot12Bridge | None) -> None:
        if bridge is not None:
            self.rt.spawn(bridge.store(), "onebot12 bridge state")

    # -- request ---------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        try:
            self._check_token(request)
            version = request.headers.get("X-OneBot-Version", "").strip()
            if version != "12":
                raise Refused(400, "bad_version")
            event = self._parse(await request.read())
            kind = event["type"]
            if kind == "message":
                return await self._message(event, request.headers.get("X-Impl", ""))
            if kind == "meta":
                self._store(self.bridges.meta(event, request.headers.get("X-Impl", "")))
            else:
                log.debug("onebot12: ignored %s.%s", kind, event["detail_type"])
            return web.Response(status=204)
        except Refused as refused:
            return self.reject(refused.status, refused.reason)

    def _check_token(self, request: web.Request) -> None:
        if not self._token:
            return
        auth = request.headers.get("Authorization")
        given: str | None
        if auth is not None:
            scheme, _, given = auth.partition(" ")
            if scheme.lower() != "bearer":
                raise Refused(403, "bad_token")
        else:
            given = request.query.get("access_token")
            if given is None:
                raise Refused(401, "no_token")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self._token):
            raise Refused(403, "bad_token")

    @staticmethod
    def _parse(body: bytes) -> dict[str, Any]:
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise Refused(400, "bad_json") from None
        if not isinstance(event, dict):
            raise Refused(400, "bad_json")
        for key in ("id", "type", "detail_type"):
            if not isinstance(event.get(key), str) or not event[key]:
                raise Refused(400, "bad_fields")
        stamp = event.get("time")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            raise Refused(400, "bad_fields")
        return event

    # -- messages ----------------------------------------------------------------
    async def _message(self, event: dict[str, Any], impl: str) -> web.Response:
        me = event.get("self")
        if not isinstance(me, dict):
            raise Refused(400, "bad_fields")
        platform, self_user = _str_id(me.get("platform")), _str_id(me.get("user_id"))
        if not platform or ":" in platform or not self_user:
            raise Refused(400, "bad_fields")
        self._store(self.bridges.saw(impl, platform, self_user))
        sender = self.rt.senders.get("onebot12")
        if isinstance(sender, Onebot12Sender):
            sender.remember_self(platform, self_user)
        detail = event["detail_type"]
        if detail not in ("private", "group"):
            log.debug("onebot12: ignored message %s", detail)
            return web.Response(status=204)
        if self.clock() - float(event["time"]) > self.stale_seconds:
            raise Refused(403, "stale_event")
        inbound = self._inbound(event, platform, self_user, detail == "group")
        if inbound is None:
            return web.Response(status=204)  # the bot's own message echoed back
        key = inbound.event_id
        self._forget_old()
        if key in self._answered:
            self.rt.metrics.dedup_hits.labels(self.name).inc()
            log.info("onebot12: retry of %s answered 204", key)
            return web.Response(status=204)
        self._answered[key] = self.clock()
        replies = await self.rt.dispatcher.handle(inbound)
        return self._answer(inbound, platform, self_user, replies)

    @staticmethod
    def _inbound(
        event: dict[str, Any], platform: str, self_user: str, is_group: bool
    ) -> Inbound | None:
        user = _str_id(event.get("user_id"))
        message_id = _str_id(event.get("message_id"))
        group = _str_id(event.get("group_id")) if is_group else user
        if not user or not message_id or not group:
            raise Refused(400, "bad_fields")
        if user == self_user:
            return None
        text, mentioned, kind = message_content(
            event.get("message"), event.get("alt_message"), self_user
        )
        event_id = f"{platform}:{self_user}:{event['id']}"
        if len(event_id) > MAX_EVENT_KEY:
            raise Refused(400, "bad_fields")
        return Inbound(
            platform="onebot12",
            user_id=f"{platform}:{user}",
            chat_id=f"{platform}:{group}",
            text=text,
            is_group=is_group,
            mentioned_bot=mentioned,
            kind=kind,
            event_id=event_id,
            timestamp=float(event["time"]),
            raw=event,
            extra={"self_platform": platform, "message_id": message_id},
        )

    def _answer(
        self, inb: Inbound, platform: str, self_user: str, replies: list[Reply]
    ) -> web.Response:
        texts = [r.text for r in replies if r.text.strip()]
        if not texts:
            return web.Response(status=204)
        text = limit_reply(texts[0] if len(texts) == 1 else "\n\n".join(texts))
        target = (
            Target.group("onebot12", inb.chat_id) if inb.is_group else Target.parse(inb.user_key)
        )
        raw_user = inb.user_id.partition(":")[2]
        mention = raw_user if inb.is_group and any(r.at_sender for r in replies) else None
        if self.reply_in_response:
            found = message_params(target)
            assert found is not None
            self._echo += 1
            actions = [
                action_request(
                    platform, found[1], text_segments(text, mention), self_user, f"r{self._echo}"
                )
            ]
            return web.Response(
                body=json.dumps(actions, ensure_ascii=False).encode("utf-8"),
                content_type=_JSON,
                charset="utf-8",
            )
        sender = self.rt.senders.get("onebot12")
        outbound = self.rt.outbound
        if not isinstance(sender, Onebot12Sender) or outbound is None:
            log.warning("onebot12: no api_url, reply to %s dropped", inb.chat_key)
            return web.Response(status=204)

        async def send():  # type: ignore[no-untyped-def]
            return await sender.send_message(target, text, mention=mention)

        self.rt.spawn(outbound.deliver(target, text, send, purpose="reply"), "onebot12 reply")
        return web.Response(status=204)

    def _forget_old(self) -> None:
        cutoff = self.clock() - ANSWERED_SECONDS
        while self._answered:
            oldest = next(iter(self._answered.values()))
            if oldest >= cutoff and len(self._answered) <= ANSWERED_SIZE:
                break
            self._answered.popitem(last=False)
