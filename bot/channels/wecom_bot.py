"""企业微信智能机器人（API 模式）回调：GET /wecom-bot 验证 URL，POST /wecom-bot 收消息。

Sources: developer.work.weixin.qq.com document paths 101039 (overview), 100719
(receiving), 101031 (passive replies), 101033 (encryption); Tencent's
``WXBizJsonMsgCrypt`` samples (shared/protocols.md, "WeCom smart robot").

The smart robot is the official way into WeCom group chats and private chats.
The crypto is WeCom's AES scheme with an **empty receive id**, in JSON:

* GET ``msg_signature``, ``timestamp``, ``nonce``, ``echostr`` → the decrypted
  echostr as the plain body (`bot.channels.tencent.verify_echostr`).
* POST, same query, body ``{"encrypt": "…"}``; the signature is over the
  ``encrypt`` value (`decrypt_envelope`), the plaintext is the message as JSON:
  ``msgid``, ``aibotid``, ``chatid`` (groups), ``chattype`` (``single`` /
  ``group``), ``from {userid}``, ``msgtype`` and its object.
* Replies are the encrypted envelope ``{"encrypt", "msgsignature",
  "timestamp", "nonce"}`` reusing the callback's nonce; nothing to say → 200
  with an empty body.

Messages (``text``; ``voice``: its recognised ``content``; ``mixed``: its text
items; ``image`` / ``file``: "text only") become an `Inbound`: platform
``wecom-bot``, user ``from.userid``, chat ``chatid`` in a group (else the
user), ``event_id`` = ``msgid`` (dedup). In a group the platform forwards only
messages that @ the robot, so each is a mention; the "@机器人" text in front is
stripped like any leading mention. ``aibotid`` other than ``wecom_bot.bot_id``
(when set) → 403.

Answers to messages are a stream (`bot.channels.wecom_bot_streams`): the
reply to the message callback is ``stream {id, finish, content}`` — finished
with the whole reply when the dispatcher answers within `REPLY_BUDGET_SECONDS`,
else open with no content; the platform's ``msgtype "stream"`` refresh
callbacks then get the content and ``finish`` once it is there. A message
delivered again (same ``msgid``) gets its first stream, never a second run.

Events: ``enter_chat`` (a member opens the private chat, once a day) is the
welcome, dispatched as ``subscribe`` and answered with a plain ``text`` reply
(the only place the platform takes one); other events → empty body.

Status codes (counted in ``lianxin_rejected_requests_total{platform="wecom-bot"}``):
400 missing timestamp/nonce/echostr, a body that is not JSON with ``encrypt``,
what cannot be decrypted or is not a JSON object; 403 missing or wrong
msg_signature, a timestamp more than `MAX_CLOCK_SKEW_SECONDS` off (a replay),
another robot's aibotid.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from bot.channels.base import Channel
from bot.channels.tencent import (
    Refused,
    decrypt_envelope,
    query_timestamp,
    reply_text,
    sha1_signature,
    verify_echostr,
)
from bot.channels.wecom_bot_streams import Stream, Streams
from bot.config import ConfigError
from bot.inbound import Inbound
from bot.text import shorten

log = logging.getLogger("lianxin.channels.wecom-bot")

# The platform waits ~5 s for the answer; past this the stream opens empty.
REPLY_BUDGET_SECONDS = 3.0
MAX_CLOCK_SKEW_SECONDS = 300
# A stream's content is at most 20480 bytes of UTF-8 (101031).
MAX_STREAM_BYTES = 20480
# msgtype → Inbound.kind for messages the bot cannot read.
MEDIA_KINDS = {"image": "image", "file": "file", "video": "video"}


def _dict(value: Any) -> dict[str, Any]:
    """A JSON object field, or {} when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _empty() -> web.Response:
    return web.Response(status=200, body=b"", content_type="text/plain")


def message_text(msg: dict[str, Any]) -> tuple[str, str]:
    """(kind, text) of a decrypted message."""
    msgtype = msg.get("msgtype")
    body = msg.get(msgtype) if isinstance(msgtype, str) else None
    body = body if isinstance(body, dict) else {}
    if msgtype in ("text", "voice"):
        content = body.get("content")
        text = content.strip() if isinstance(content, str) else ""
        # Voice carries WeCom's recognised text; without it there is nothing to read.
        return ("text" if text or msgtype == "text" else "voice"), text
    if msgtype == "mixed":
        texts, media = [], ""
        for item in body.get("msg_item") or []:
            if not isinstance(item, dict):
                continue
            if item.get("msgtype") == "text" and isinstance(item.get("text"), dict):
                texts.append(str(item["text"].get("content") or ""))
            elif not media:
                media = MEDIA_KINDS.get(str(item.get("msgtype")), "")
        text = " ".join(t.strip() for t in texts if t.strip())
        return ("text", text) if text or not media else (media, "")
    return MEDIA_KINDS.get(str(msgtype), str(msgtype or "unknown")), ""


class WecomBotChannel(Channel):
    name = "wecom-bot"
    path = "/wecom-bot"

    def __init__(self, runtime: Any) -> None:
        super().__init__(runtime)
        self.cfg = runtime.config.wecom_bot
        try:
            # The smart robot's receive id is the empty string.
            self.crypto = WeChatCrypto(self.cfg.token, self.cfg.encoding_aes_key, "")
        except Exception as exc:
            raise ConfigError(
                "wecom_bot.encoding_aes_key: not a valid EncodingAESKey (43 characters from "
                "the robot's API settings)"
            ) from exc
        # Wall clock for the replay check and reply timestamps (tests pin it).
        self.clock: Callable[[], float] = time.time
        self.reply_budget = REPLY_BUDGET_SECONDS
        self.streams = Streams(self.clock)

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.verify), web.post(self.path, self.receive)]

    async def shutdown(self) -> None:
        await self.streams.close(self.rt.config.server.shutdown_timeout)

    def _check_skew(self, ts: int) -> None:
        if abs(self.clock() - ts) > MAX_CLOCK_SKEW_SECONDS:
            raise Refused(403, "stale_timestamp")

    # -- GET: URL verification ------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        try:
            plain = verify_echostr(
                self.crypto,
                self.cfg.token,
                request.query,
                check_fresh=self._check_skew,
                refusals={},
            )
        except Refused as refused:
            return self.reject(refused.status, refused.reason)
        return web.Response(body=plain.encode("utf-8"), content_type="text/plain")

    # -- POST: callbacks ----------------------------------------------------------

    async def receive(self, request: web.Request) -> web.Response:
        try:
            msg, nonce = await self._open(request)
            bot_id = self.cfg.bot_id
            if bot_id and msg.get("aibotid") != bot_id:
                raise Refused(403, "wrong_bot")
            msgtype = msg.get("msgtype")
            if msgtype == "stream":
                return self._refresh(msg, nonce)
            if msgtype == "event":
                return await self._event(msg, nonce)
            return await self._message(msg, nonce)
        except Refused as refused:
            return self.reject(refused.status, refused.reason)

    async def _open(self, request: web.Request) -> tuple[dict[str, Any], str]:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not timestamp or not nonce:
            raise Refused(400, "missing_params")
        ts = query_timestamp(timestamp)
        try:
            outer = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise Refused(400, "bad_json") from None
        encrypt = outer.get("encrypt") if isinstance(outer, dict) else None
        if not isinstance(encrypt, str):
            raise Refused(400, "missing_encrypt")
        plain = decrypt_envelope(
            self.crypto,
            self.cfg.token,
            encrypt.strip(),
            timestamp,
            nonce,
            q.get("msg_signature", ""),
            check_fresh=lambda: self._check_skew(ts),
            refusals={},
        )
        try:
            msg = json.loads(plain)
        except (ValueError, RecursionError):
            raise Refused(400, "bad_message") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("msgtype"), str):
            raise Refused(400, "bad_message")
        return msg, nonce

    def _inbound(self, msg: dict[str, Any], kind: str, text: str) -> Inbound:
        sender = _dict(msg.get("from"))
        user = sender.get("userid")
        if not isinstance(user, str) or not user:
            raise Refused(400, "missing_fields")
        is_group = msg.get("chattype") == "group"
        chat = msg.get("chatid") if is_group else user
        if not isinstance(chat, str) or not chat:
            raise Refused(400, "missing_fields")
        stamp = msg.get("create_time")
        msgid = msg.get("msgid")
        return Inbound(
            platform=self.name,
            user_id=user,
            chat_id=chat,
            text=text,
            is_group=is_group,
            # In a group the robot hears only messages that @ it.
            mentioned_bot=is_group,
            kind=kind,
            event_id=str(msgid)[:191] if msgid else "",
            timestamp=float(stamp) if isinstance(stamp, int | float) else self.clock(),
            raw=msg,
            extra={"aibotid": msg.get("aibotid", ""), "recognition": msg.get("msgtype") == "voice"},
        )

    async def _answer(self, inb: Inbound) -> str:
        replies = await self.rt.dispatcher.handle(inb)
        return shorten(reply_text(replies), MAX_STREAM_BYTES)

    async def _message(self, msg: dict[str, Any], nonce: str) -> web.Response:
        kind, text = message_text(msg)
        inb = self._inbound(msg, kind, text)
        stream = self.streams.for_message(inb.event_id) if inb.event_id else None
        if stream is not None:
            self.rt.metrics.dedup_hits.labels(self.name).inc()
            log.info("wecom-bot: retry of %s answered with its stream", inb.event_id)
        else:
            stream = self.streams.open(inb.event_id, self._answer(inb))
            await self.streams.wait(stream, self.reply_budget)
        if stream.finished and not stream.content():
            return _empty()
        return self._stream_reply(stream, nonce)

    def _refresh(self, msg: dict[str, Any], nonce: str) -> web.Response:
        info = _dict(msg.get("stream"))
        stream = self.streams.get(str(info.get("id") or ""))
        if stream is None:
            # Forgotten (expired, or before a restart): end it rather than spin.
            payload = {"msgtype": "stream", "stream": {"id": info.get("id"), "finish": True}}
            return self._envelope(payload, nonce)
        return self._stream_reply(stream, nonce)

    async def _event(self, msg: dict[str, Any], nonce: str) -> web.Response:
        event = _dict(msg.get("event"))
        if event.get("eventtype") != "enter_chat":
            log.debug("wecom-bot: ignored event %s", event.get("eventtype"))
            return _empty()
        inb = self._inbound(msg, "subscribe", "")
        text = await self._answer(inb)
        if not text:
            return _empty()
        return self._envelope({"msgtype": "text", "text": {"content": text}}, nonce)

    # -- the encrypted JSON reply ---------------------------------------------------

    def _stream_reply(self, stream: Stream, nonce: str) -> web.Response:
        state: dict[str, Any] = {"id": stream.id, "finish": stream.finished}
        if stream.finished:
            state["content"] = stream.content()
        return self._envelope({"msgtype": "stream", "stream": state}, nonce)

    def _envelope(self, payload: dict[str, Any], nonce: str) -> web.Response:
        timestamp = str(int(self.clock()))
        plain = json.dumps(payload, ensure_ascii=False)
        encrypt = PrpCrypto(self.crypto.key).encrypt(plain, "").decode("ascii")
        body = {
            "encrypt": encrypt,
            "msgsignature": sha1_signature(self.cfg.token, timestamp, nonce, encrypt),
            "timestamp": int(timestamp),
            "nonce": nonce,
        }
        return web.json_response(body)
