"""OneBot v11 HTTP POST 上报（go-cqhttp / NapCat / Lagrange.OneBot）：POST /onebot。

The OneBot implementation POSTs every event here and applies the *quick
operation* it finds in our HTTP response. Sources: shared/protocols.md §3
(botuniverse/onebot-11 ``communication/http-post.md``; nonebot/adapter-onebot
``v11/adapter.py``; Mrs4s/go-cqhttp ``server/http.go``).

Request checks, in order (every refusal is counted by `Channel.reject`):

* ``onebot.secret`` set → ``X-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>``
  is checked over the raw bytes with `hmac.compare_digest`: missing → 401,
  wrong → 403 (nonebot's answers).
* ``onebot.access_token`` set → an ``Authorization: Bearer <token>`` (or
  ``Token <token>``) header is *accepted but not required*: go-cqhttp's reverse
  HTTP never sends one (it signs with the secret instead), other implementations
  and proxies may. A header that is present but carries another token is a
  misconfiguration or a forgery and gets 403. The secret is what authenticates
  this endpoint: bot.config requires it when the channel is on (were it empty,
  the endpoint would be open and a warning is logged at startup).
* Body: JSON object with a string ``post_type``, else 400. ``X-Self-ID`` must
  equal the body's ``self_id`` when both are present, else 400.

Events:

* ``message`` (``private`` / ``group``) becomes an `Inbound` (see `_inbound`);
  the dispatcher's replies go back as ``{"reply", "at_sender", "auto_escape":
  true}`` (auto_escape: our text is never read as CQ codes). Several replies
  are joined with a blank line. No reply → 204 with an empty body.
* The bot's own messages (``user_id == self_id``, ``post_type
  "message_sent"``), ``notice``, ``request``, ``meta_event`` and unknown types
  → 204 (``group_increase`` is logged at info, the rest at debug).

Anonymous group messages (``sub_type "anonymous"``) carry ``user_id`` 80000000
for every anonymous sender and a per-session ``anonymous.flag``. The flag is
never used as identity; the message is handled as from ``onebot:80000000`` — one
shared resident for all anonymous senders (never grant it a role: anyone could
speak as it) — with ``anonymous.name`` as the display name and
``extra["anonymous"] = True``.

Long replies: one quick operation carries one message, so a reply longer than
`MAX_REPLY_CHARS` (4,500 characters, a safe size for one QQ message) is cut at
that length like `bot.text.shorten` does (trailing space dropped, "…" marks the
cut) rather than split.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web

from bot.channels.base import Channel
from bot.channels.cqcode import as_segments
from bot.fastjson import dumps
from bot.inbound import Inbound, Reply

log = logging.getLogger("lianxin.onebot")

# One QQ message; the quick operation sends exactly one.
MAX_REPLY_CHARS = 4500
ELLIPSIS = "…"

# OneBot segment type → Inbound.kind for a message with no text at all.
MEDIA_KINDS = {
    "image": "image",
    "record": "voice",
    "video": "video",
    "file": "file",
    "location": "location",
    "share": "link",
}

_JSON = "application/json"


def _is_id(value: Any) -> bool:
    """A QQ number / group number as OneBot sends it (int64, or digits in a string)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def limit_reply(text: str, max_chars: int = MAX_REPLY_CHARS) -> str:
    """Cut to at most max_chars characters, marking the cut (cf. bot.text.shorten)."""
    if len(text) <= max_chars:
        return text
    return text[: max_chars - len(ELLIPSIS)].rstrip() + ELLIPSIS


def message_content(message: Any, self_id: str) -> tuple[str, bool, str]:
    """(text, mentioned_bot, kind) of a OneBot ``message`` in either format.

    Text segments are joined; an ``at`` of the bot sets mentioned_bot and is
    dropped, any other ``at`` stays as ``@qq``; ``reply``, ``face``, ``image`` and
    the rest add nothing. A message without text but with media gets that
    media's kind ("image", "voice", ...) so the dispatcher can say it only reads text.
    """
    return segments_content(as_segments(message), self_id)


def segments_content(
    segments: list[dict[str, Any]],
    self_id: str,
    *,
    mention: tuple[str, str] = ("at", "qq"),
    media_kinds: dict[str, str] = MEDIA_KINDS,
) -> tuple[str, bool, str]:
    """`message_content` of well-formed segments; ``mention`` is the @ segment's
    (type, id field): ("at", "qq") in v11, ("mention", "user_id") in OneBot 12."""
    parts: list[str] = []
    mentioned = False
    media = ""
    mention_type, mention_key = mention
    for seg in segments:
        kind = seg["type"]
        data = seg["data"]
        if kind == "text":
            value = data.get("text")
            if isinstance(value, str):
                parts.append(value)
        elif kind == mention_type:
            who = str(data.get(mention_key, ""))
            if self_id and who == self_id:
                mentioned = True
            elif who:
                parts.append(f"@{who}")
        elif not media:
            media = media_kinds.get(kind, "")
    text = "".join(parts).strip()
    if not text and media:
        return "", mentioned, media
    return text, mentioned, "text"


def image_ref(message: Any) -> dict[str, str]:
    """The first image's file id and URL (kept as 附图 evidence by the requests service)."""
    for seg in as_segments(message):
        if seg["type"] == "image":
            data = seg["data"]
            return {"media_id": str(data.get("file") or ""), "url": str(data.get("url") or "")}
    return {}


class OnebotChannel(Channel):
    name = "onebot"
    path = "/onebot"

    def __init__(self, runtime: Any) -> None:
        super().__init__(runtime)
        cfg = runtime.config.onebot
        self._secret: bytes | None = cfg.secret.encode("utf-8") if cfg.secret else None
        # The key's HMAC state, copied per request instead of set up again.
        self._mac = hmac.new(self._secret, digestmod=hashlib.sha1) if self._secret else None
        self._token: str = cfg.access_token
        self._max_age = cfg.max_event_age_seconds
        # Wall clock for the replay check (tests pin it).
        self.clock: Any = time.time

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.path, self.handle)]

    async def startup(self) -> None:
        if self._secret is None:
            log.warning(
                "onebot.secret is not set: anyone who can reach %s can post events", self.path
            )

    # -- request ---------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        if self._mac is not None:
            signature = headers.get("X-Signature")
            if not signature:
                return self.reject(401, "no_signature", "missing X-Signature")
            mac = self._mac.copy()
            mac.update(body)
            expected = b"sha1=" + mac.hexdigest().encode()
            given = signature.strip().lower().encode("utf-8", "replace")
            if not hmac.compare_digest(expected, given):
                return self.reject(403, "bad_signature", "wrong X-Signature")
        if self._token:
            auth = headers.get("Authorization")
            if auth is not None:
                _, _, token = auth.strip().partition(" ")
                if not hmac.compare_digest(
                    token.strip().encode("utf-8", "replace"), self._token.encode("utf-8")
                ):
                    return self.reject(403, "bad_token", "wrong access token")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return self.reject(400, "bad_json", "body must be JSON")
        if not isinstance(data, dict):
            return self.reject(400, "bad_json", "body must be a JSON object")
        post_type = data.get("post_type")
        if not isinstance(post_type, str):
            return self.reject(400, "bad_fields", "post_type missing")
        self_id = data.get("self_id")
        header_self = headers.get("X-Self-ID")
        if self_id is None:
            self_str = header_self.strip() if header_self else ""
        else:
            self_str = str(self_id)
            if header_self is not None and header_self.strip() != self_str:
                return self.reject(400, "self_id_mismatch", "X-Self-ID does not match self_id")

        if post_type == "message":
            return await self._message(data, self_str)
        self._log_other(post_type, data)
        return web.Response(status=204)

    async def _message(self, data: dict[str, Any], self_id: str) -> web.Response:
        message_type = data.get("message_type")
        if message_type != "private" and message_type != "group":
            log.debug("onebot: ignored message_type %r", message_type)
            return web.Response(status=204)
        if self_id and str(data.get("user_id")) == self_id:
            return web.Response(status=204)  # the bot's own message echoed back
        stamp = data.get("time")
        if self._max_age and isinstance(stamp, int | float) and not isinstance(stamp, bool):
            if self.clock() - stamp > self._max_age:
                # An old event posted again (a replay), as stale WeChat timestamps are.
                return self.reject(403, "stale_event", "event older than max_event_age_seconds")
        inbound = self._inbound(data, self_id, message_type == "group")
        if inbound is None:
            return self.reject(400, "bad_fields", "user_id / group_id missing or not a number")
        replies = await self.rt.dispatcher.handle(inbound)
        return self._quick_reply(replies, inbound.is_group)

    @staticmethod
    def _inbound(data: dict[str, Any], self_id: str, is_group: bool) -> Inbound | None:
        user_id = data.get("user_id")
        if not _is_id(user_id):
            return None
        user = str(user_id)
        if is_group:
            group_id = data.get("group_id")
            if not _is_id(group_id):
                return None
            chat = str(group_id)
        else:
            chat = user
        sender = data.get("sender")
        if not isinstance(sender, dict):
            sender = {}
        # The card differs per group: it greets, but only the nickname is kept.
        nickname = sender.get("nickname") or ""
        display = sender.get("card") or nickname
        extra: dict[str, Any] = {}
        anonymous = data.get("anonymous")
        if isinstance(anonymous, dict):
            # Never the flag: it changes per session and is not a person.
            display = anonymous.get("name") or display
            nickname = ""  # one shared user for every anonymous sender
            extra["anonymous"] = True
        message = data.get("message")
        if message is None:
            message = data.get("raw_message", "")
        segments = as_segments(message)  # parsed once for the text and the image
        text, mentioned, kind = segments_content(segments, self_id)
        extra.update(image_ref(segments))  # also with text: "/回单 … [image]" carries 附图
        message_id = data.get("message_id")
        stamp = data.get("time")
        return Inbound(
            platform="onebot",
            user_id=user,
            chat_id=chat,
            text=text,
            display_name=str(display),
            nickname=str(nickname),
            is_group=is_group,
            mentioned_bot=mentioned,
            kind=kind,
            event_id=f"{self_id}:{message_id}" if message_id is not None else "",
            timestamp=float(stamp) if isinstance(stamp, int | float) else time.time(),
            raw=data,
            extra=extra,
        )

    @staticmethod
    def _quick_reply(replies: list[Reply], is_group: bool) -> web.Response:
        texts = [r.text for r in replies if r.text]
        if not texts:
            return web.Response(status=204)
        operation = {
            "reply": limit_reply(texts[0] if len(texts) == 1 else "\n\n".join(texts)),
            # OneBot defaults at_sender to true in groups: always say it explicitly.
            "at_sender": is_group and any(r.at_sender for r in replies),
            "auto_escape": True,
        }
        return web.Response(
            body=dumps(operation).encode("utf-8"),
            content_type=_JSON,
            charset="utf-8",
        )

    @staticmethod
    def _log_other(post_type: str, data: dict[str, Any]) -> None:
        if post_type == "notice" and data.get("notice_type") == "group_increase":
            log.info(
                "onebot: user %s joined group %s (%s)",
                data.get("user_id"),
                data.get("group_id"),
                data.get("sub_type"),
            )
        elif log.isEnabledFor(logging.DEBUG):
            # notice_type / request_type / meta_event_type
            log.debug("onebot: ignored %s %s", post_type, data.get(f"{post_type}_type") or "")
