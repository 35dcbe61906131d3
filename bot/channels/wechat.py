"""微信公众号渠道：URL 验证（GET）与消息推送（POST，明文 / 兼容 / 安全模式）。

Protocol: shared/protocols.md §1. One route, ``/wechat``.

GET (URL verification)
    ``signature = sha1(sorted(token, timestamp, nonce))``; the answer is ``echostr``
    verbatim (text/plain).

POST (messages and events)
    * ``encrypt_type=aes`` in the query: ``msg_signature`` over
      (token, timestamp, nonce, Encrypt) is checked, the body decrypted with
      wechatpy's ``WeChatCrypto`` (trailing appid checked) and the reply goes
      back in the encrypted envelope. Otherwise ``signature`` is checked and
      the reply is plain XML.
    * mode ``safe`` refuses unencrypted requests; mode ``plain`` decrypts when
      an EncodingAESKey and appid happen to be configured and refuses encrypted
      requests otherwise; mode ``compat`` takes both.
    * No reply, or a reply that is not ready within
      ``wechat.reply_budget_seconds``: the body is ``success`` (never
      encrypted, §1.3). A late reply goes out through the customer-service API
      (``runtime.senders["wechat"]``) when the handler finishes; a passive text
      longer than 2048 bytes is cut on line ends and the rest follows the same
      way (at most 5 messages after a user message, 3 after an event, per the
      platform's quota in §1.6), or is shortened with "…" when no sender is
      configured.
    * Retries (§1.3): the dispatcher deduplicates by ``Inbound.event_id``
      (MsgId for messages, ``FromUserName:CreateTime:Event`` for events). A retry
      that arrives while this process still runs the first delivery, or after
      the first delivery's reply was handed to the customer-service API, gets
      ``success`` so the user is not answered twice.

Status codes (counted in ``lianxin_rejected_requests_total{platform="wechat"}``):

    400  a required query parameter other than the signature is missing
         (timestamp, nonce; echostr on GET) or not a number (timestamp);
         an encrypted request that cannot be decrypted (no key configured,
         bad base64/padding); an empty, non-UTF-8 or malformed body; a body
         with a DOCTYPE or ENTITY declaration (refused before any XML parser
         sees it, and the parser itself is defusedxml with DTDs forbidden, so
         nothing is ever expanded or fetched); a message without
         MsgType/FromUserName or with a bad CreateTime.
    403  the signature (``signature``, or ``msg_signature`` when encrypted) is
         missing or wrong. There is no 401: a missing signature is 403 like a
         wrong one, while a request that lacks timestamp or nonce (including
         one with no query at all) is 400, checked first. The timestamp is
         more than ``wechat.max_clock_skew_seconds`` away from our clock
         (replay); an unencrypted request in safe mode; an encrypted message
         whose appid is not ours.
    413  body over ``server.max_body_bytes`` (aiohttp's client_max_size),
         counted with reason ``too_large``.

Late and follow-up messages are counted in
``lianxin_outbound_sends_total{platform="wechat",outcome=ok|failed|error|no_sender}``;
retries answered here without dispatching in ``lianxin_dedup_hits_total``.
    200  everything else, including any unexpected failure in this module,
         which is logged, counted as
         ``lianxin_events_total{platform="wechat",command="-",outcome="channel_error"}``
         and answered ``success`` so WeChat never shows the user an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from aiohttp import web
from defusedxml.common import DefusedXmlException
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import (
    ClickEvent,
    LocationEvent,
    ScanEvent,
    SubscribeEvent,
    SubscribeScanEvent,
    UnsubscribeEvent,
    ViewEvent,
)
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import (
    ImageMessage,
    LinkMessage,
    LocationMessage,
    TextMessage,
    VoiceMessage,
)

from bot.channels.base import Channel
from bot.inbound import Inbound, Reply
from bot.text import shorten, split_for_limit, utf8_len

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.channels.wechat")

SUCCESS = "success"
# Passive text replies (and customer-service texts) are cut at 2048 bytes of UTF-8.
MAX_TEXT_BYTES = 2048
# Customer-service messages allowed after one interaction (protocols.md §1.6).
MAX_FOLLOWUPS_AFTER_MESSAGE = 5
MAX_FOLLOWUPS_AFTER_EVENT = 3
# Event ids whose reply went out through the customer-service API: a retry of
# one of them is answered "success". WeChat retries within ~15 s.
LATE_MEMORY_SECONDS = 600.0
LATE_MEMORY_SIZE = 10_000

# Characters XML 1.0 does not allow in a document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class _Request:
    inbound: Inbound
    account: str  # the Official Account's id (inbound ToUserName, gh_…)
    encrypted: bool
    nonce: str


def _sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.strip().lower().encode("utf-8"))


def declares_dtd(body: bytes) -> bool:
    """True when the body has a <!DOCTYPE or <!ENTITY outside CDATA sections.

    A linear scan, so that a body full of unterminated CDATA openers costs no
    more than one pass. Text a user typed (always inside CDATA) may contain
    "<!DOCTYPE" and is not refused for it.
    """
    pos = 0
    while True:
        i = body.find(b"<!", pos)
        if i < 0:
            return False
        if body.startswith(b"<![CDATA[", i):
            end = body.find(b"]]>", i + 9)
            if end < 0:
                # Unterminated CDATA: malformed; the (DTD-forbidding) parser refuses it.
                return False
            pos = end + 3
            continue
        word = body[i + 2 : i + 9].upper()
        if word.startswith((b"DOCTYPE", b"ENTITY")):
            return True
        pos = i + 2


def cdata(text: str) -> str:
    """A CDATA section for any text: "]]>" is split across two sections."""
    clean = _XML_INVALID.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """Passive text reply (protocols.md §1.4, vector wechat_reply_text.xml)."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _success() -> web.Response:
    return web.Response(text=SUCCESS, content_type="text/plain")


class WechatChannel(Channel):
    name = "wechat"
    path = "/wechat"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.cfg = runtime.config.wechat
        self.crypto = self._make_crypto()
        # Background deliveries (late replies, follow-up parts), awaited at shutdown.
        self._tasks: set[asyncio.Task[None]] = set()
        # event_id → the dispatcher task of a delivery still running here.
        self._inflight: dict[str, asyncio.Task[list[Reply]]] = {}
        # event_id → loop time its reply was handed to the customer-service path.
        self._late: OrderedDict[str, float] = OrderedDict()

    def _make_crypto(self) -> WeChatCrypto | None:
        if not (self.cfg.encoding_aes_key and self.cfg.appid):
            return None
        try:
            return WeChatCrypto(self.cfg.token, self.cfg.encoding_aes_key, self.cfg.appid)
        except Exception:
            # Only reachable in plain mode (validate() checks the key otherwise).
            log.warning("wechat.encoding_aes_key is not a valid EncodingAESKey; AES disabled")
            return None

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.verify), web.post(self.path, self.receive)]

    # -- GET: URL verification ------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        echostr, signature = q.get("echostr", ""), q.get("signature", "")
        if not timestamp or not nonce or not echostr:
            return self.reject(400, "missing_params", "timestamp, nonce and echostr are required")
        try:
            ts = self._timestamp(timestamp)
            if not signature:
                raise _Refused(403, "missing_signature")
            if not _same(_sha1_signature(self.cfg.token, timestamp, nonce), signature):
                raise _Refused(403, "bad_signature")
            self._check_skew(ts)
        except _Refused as refused:
            return self.reject(refused.status, refused.reason)
        return web.Response(text=echostr, content_type="text/plain")

    # -- POST: messages and events ------------------------------------------

    async def receive(self, request: web.Request) -> web.StreamResponse:
        started = asyncio.get_running_loop().time()
        try:
            req = await self._accept(request)
            return await self._answer(request, req, started)
        except _Refused as refused:
            return self.reject(refused.status, refused.reason)
        except web.HTTPRequestEntityTooLarge:
            self.rt.metrics.rejected.labels(self.name, "too_large").inc()
            raise
        except web.HTTPException:
            raise
        except Exception:
            log.exception("wechat: unexpected failure, answering success")
            self.rt.metrics.events.labels(self.name, "-", "channel_error").inc()
            return _success()

    async def _accept(self, request: web.Request) -> _Request:
        """Check the query, read, verify, decrypt and parse; raise _Refused on any problem."""
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not timestamp or not nonce:
            raise _Refused(400, "missing_params")
        ts = self._timestamp(timestamp)
        encrypted = q.get("encrypt_type", "").lower() == "aes"
        msg_signature = q.get("msg_signature", "")
        if encrypted:
            if self.crypto is None:
                raise _Refused(400, "no_aes_key")
            if not msg_signature:
                raise _Refused(403, "missing_signature")
        else:
            if self.cfg.mode == "safe":
                raise _Refused(403, "plain_refused")
            signature = q.get("signature", "")
            if not signature:
                raise _Refused(403, "missing_signature")
            if not _same(_sha1_signature(self.cfg.token, timestamp, nonce), signature):
                raise _Refused(403, "bad_signature")
            self._check_skew(ts)

        # aiohttp raises 413 here when the body is over client_max_size.
        body = await request.read()
        text, fields = self._parse_xml(body)
        if encrypted:
            assert self.crypto is not None
            encrypt = fields.get("Encrypt", "").strip()
            if not encrypt:
                raise _Refused(400, "missing_encrypt")
            expected = _sha1_signature(self.cfg.token, timestamp, nonce, encrypt)
            if not _same(expected, msg_signature):
                raise _Refused(403, "bad_signature")
            self._check_skew(ts)
            try:
                plain = self.crypto.decrypt_message(
                    {"Encrypt": encrypt}, expected, timestamp, nonce
                )
            except InvalidAppIdException:
                raise _Refused(403, "wrong_appid") from None
            except InvalidSignatureException:
                raise _Refused(403, "bad_signature") from None
            except Exception:
                raise _Refused(400, "bad_encrypt") from None
            text, fields = self._parse_xml(plain.encode("utf-8"))
        inbound, account = self._to_inbound(text, fields)
        return _Request(inbound, account, encrypted, nonce)

    @staticmethod
    def _timestamp(value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise _Refused(400, "bad_timestamp") from None

    def _check_skew(self, ts: int) -> None:
        if abs(time.time() - ts) > self.cfg.max_clock_skew_seconds:
            raise _Refused(403, "stale_timestamp")

    @staticmethod
    def _parse_xml(body: bytes) -> tuple[str, dict[str, str]]:
        """The body as text and its top-level fields; DTDs refused before parsing."""
        if not body.strip():
            raise _Refused(400, "empty_body")
        if declares_dtd(body):
            raise _Refused(400, "dtd_forbidden")
        try:
            text = body.decode("utf-8")  # WeChat always sends UTF-8
        except UnicodeDecodeError:
            raise _Refused(400, "bad_encoding") from None
        try:
            root = SafeET.fromstring(
                text, forbid_dtd=True, forbid_entities=True, forbid_external=True
            )
        except DefusedXmlException:
            raise _Refused(400, "dtd_forbidden") from None
        except ParseError:
            raise _Refused(400, "bad_xml") from None
        if root.tag != "xml":
            raise _Refused(400, "bad_xml")
        fields: dict[str, str] = {}
        for child in root:
            if child.tag in fields:
                # wechatpy would see a list; WeChat never repeats a top-level field.
                raise _Refused(400, "bad_xml")
            fields[child.tag] = (child.text or "").strip() if len(child) == 0 else ""
        return text, fields

    def _to_inbound(self, text: str, fields: dict[str, str]) -> tuple[Inbound, str]:
        msg_type = fields.get("MsgType", "")
        openid = fields.get("FromUserName", "")
        if not msg_type or not openid:
            raise _Refused(400, "missing_fields")
        try:
            create_time = int(fields.get("CreateTime", ""))
        except ValueError:
            raise _Refused(400, "bad_create_time") from None
        try:
            msg = parse_message(text)
            kind, body, extra = self._classify(msg, fields)
        except _Refused:
            raise
        except Exception:
            log.info("wechat: unparsable %s message", msg_type, exc_info=True)
            raise _Refused(400, "bad_message") from None
        if msg_type.lower() == "event" or not fields.get("MsgId"):
            # FromUserName+CreateTime (WeChat's rule), plus the event: a subscribe and the
            # LOCATION report that follows it in the same second are two events.
            event_id = f"{openid}:{create_time}:{fields.get('Event', msg_type)}"
        else:
            event_id = fields["MsgId"]
        inbound = Inbound(
            platform=self.name,
            user_id=openid,
            chat_id=openid,
            text=body,
            display_name="",
            is_group=False,
            kind=kind,
            event_id=event_id,
            timestamp=float(create_time),
            raw=fields,
            extra=extra,
        )
        return inbound, fields.get("ToUserName", "")

    @staticmethod
    def _classify(msg: Any, fields: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        """(kind, text, extra) for one wechatpy message or event."""
        if isinstance(msg, TextMessage):
            return "text", msg.content or "", {}
        if isinstance(msg, VoiceMessage):
            extra = {"media_id": msg.media_id or "", "format": msg.format or ""}
            recognition = (msg.recognition or "").strip()
            if recognition:
                return "text", recognition, {**extra, "recognition": True}
            return "voice", "", extra
        if isinstance(msg, ImageMessage):
            return "image", "", {"pic_url": msg.image or "", "media_id": msg.media_id or ""}
        if isinstance(msg, LocationMessage):
            lat, lng = msg.location
            extra = {
                "lat": _float(lat),
                "lng": _float(lng),
                "label": msg.label or "",
                "scale": _float(msg.scale),
            }
            return "location", "", extra
        if isinstance(msg, LinkMessage):
            extra = {
                "title": msg.title or "",
                "url": msg.url or "",
                "description": msg.description or "",
            }
            return "link", "", extra
        # Events. wechatpy turns subscribe + "qrscene_<scene>" into SubscribeScanEvent
        # with the prefix already removed.
        if isinstance(msg, SubscribeScanEvent):
            return "subscribe", "", {"scene": msg.scene_id or "", "ticket": msg.ticket or ""}
        if isinstance(msg, SubscribeEvent):
            return "subscribe", "", {}
        if isinstance(msg, UnsubscribeEvent):
            return "unsubscribe", "", {}
        if isinstance(msg, ScanEvent):
            return "scan", "", {"scene": msg.scene_id or "", "ticket": msg.ticket or ""}
        if isinstance(msg, ClickEvent):
            return "click", "", {"key": msg.key or ""}
        if isinstance(msg, ViewEvent):
            return "view", "", {"url": msg.url or "", "menu_id": fields.get("MenuId", "")}
        if isinstance(msg, LocationEvent):
            extra = {
                "lat": _float(fields.get("Latitude")),
                "lng": _float(fields.get("Longitude")),
                "precision": _float(fields.get("Precision")),
            }
            return "location_report", "", extra
        msg_type = fields["MsgType"].lower()
        if msg_type == "event":
            event = fields.get("Event", "").lower()
            if event == "subscribe":  # e.g. subscribe with a non-QR EventKey
                return "subscribe", "", {"key": fields.get("EventKey", "")}
            return event or "event", "", {"key": fields.get("EventKey", "")}
        return msg_type, "", {}

    # -- answering -----------------------------------------------------------

    async def _answer(
        self, request: web.Request, req: _Request, started: float
    ) -> web.StreamResponse:
        inb = req.inbound
        key = inb.event_id
        self._forget_old_late()
        if key in self._inflight or key in self._late:
            # A WeChat retry of a delivery that is still running here, or whose
            # reply goes out through the customer-service API: answer nothing.
            self.rt.metrics.dedup_hits.labels(self.name).inc()
            log.info("wechat: retry of %s answered success", key)
            return _success()
        task: asyncio.Task[list[Reply]] = asyncio.create_task(self.rt.dispatcher.handle(inb))
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._inflight.pop(key, None))
        loop = asyncio.get_running_loop()
        remaining = self.cfg.reply_budget_seconds - (loop.time() - started)
        try:
            replies = await asyncio.wait_for(asyncio.shield(task), max(0.0, remaining))
        except TimeoutError:
            log.info("wechat: %s not answered within the budget; replying later", key)
            self._deliver_later(task, inb)
            return _success()
        except asyncio.CancelledError:
            self._deliver_later(task, inb)
            raise
        return await self._passive(request, req, replies)

    async def _passive(
        self, request: web.Request, req: _Request, replies: list[Reply]
    ) -> web.StreamResponse:
        inb = req.inbound
        text = "\n\n".join(r.text for r in replies if r.text.strip())
        if not text.strip():
            return _success()
        followups: list[str] = []
        if utf8_len(text) > MAX_TEXT_BYTES:
            if self.rt.senders.get("wechat") is not None:
                parts = [p for p in split_for_limit(text, MAX_TEXT_BYTES) if p.strip()]
                text, followups = parts[0], parts[1:]
            else:
                text = shorten(text, MAX_TEXT_BYTES)
        now = int(time.time())
        xml = text_reply_xml(inb.user_id, req.account, text, now)
        if req.encrypted:
            assert self.crypto is not None
            xml = self.crypto.encrypt_message(xml, req.nonce, str(now))
        resp = web.Response(text=xml, content_type="application/xml")
        if followups:
            # Hand the passive part to WeChat first, then send the rest.
            await resp.prepare(request)
            await resp.write_eof()
            self._spawn(self._send_texts(inb, followups))
        return resp

    def _deliver_later(self, task: asyncio.Task[list[Reply]], inb: Inbound) -> None:
        self._late[inb.event_id] = asyncio.get_running_loop().time()
        self._late.move_to_end(inb.event_id)
        while len(self._late) > LATE_MEMORY_SIZE:
            self._late.popitem(last=False)
        self._spawn(self._late_reply(task, inb))

    def _forget_old_late(self) -> None:
        cutoff = asyncio.get_running_loop().time() - LATE_MEMORY_SECONDS
        while self._late:
            oldest = next(iter(self._late.values()))
            if oldest >= cutoff:
                break
            self._late.popitem(last=False)

    def _spawn(self, coro: Any) -> None:
        bg = asyncio.create_task(coro)
        self._tasks.add(bg)
        bg.add_done_callback(self._tasks.discard)

    async def _late_reply(self, task: asyncio.Task[list[Reply]], inb: Inbound) -> None:
        try:
            replies = await task
        except Exception:
            log.exception("wechat: late handler for %s failed", inb.event_id)
            self.rt.metrics.sends.labels(self.name, "error").inc()
            return
        text = "\n\n".join(r.text for r in replies if r.text.strip())
        if not text.strip():
            return
        parts = [p for p in split_for_limit(text, MAX_TEXT_BYTES) if p.strip()]
        await self._send_texts(inb, parts)

    async def _send_texts(self, inb: Inbound, parts: Iterable[str]) -> None:
        """Customer-service messages, in order; stop at the first failure."""
        parts = list(parts)
        is_event = inb.raw.get("MsgType", "").lower() == "event"
        limit = MAX_FOLLOWUPS_AFTER_EVENT if is_event else MAX_FOLLOWUPS_AFTER_MESSAGE
        if len(parts) > limit:
            parts = parts[:limit]
            parts[-1] = shorten(parts[-1] + "\n…", MAX_TEXT_BYTES)
        sender = self.rt.senders.get("wechat")
        if sender is None:
            log.warning(
                "wechat: %d message(s) for %s dropped: no customer-service sender "
                "(set wechat.appid and wechat.secret)",
                len(parts),
                inb.event_id,
            )
            self.rt.metrics.sends.labels(self.name, "no_sender").inc(len(parts))
            return
        for i, part in enumerate(parts):
            try:
                result = await sender.send_text(inb.user_id, part)
            except Exception:
                log.exception("wechat: customer-service send for %s raised", inb.event_id)
                self.rt.metrics.sends.labels(self.name, "error").inc()
                return
            if not result.ok:
                log.warning(
                    "wechat: customer-service send for %s failed (%s %s); %d part(s) not sent",
                    inb.event_id,
                    result.code,
                    result.reason,
                    len(parts) - i,
                )
                self.rt.metrics.sends.labels(self.name, "failed").inc()
                return
            self.rt.metrics.sends.labels(self.name, "ok").inc()

    async def shutdown(self) -> None:
        """Wait (bounded by server.shutdown_timeout) for late replies still on their way."""
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return
        timeout = self.rt.config.server.shutdown_timeout
        log.info("wechat: waiting up to %.1fs for %d late reply(ies)", timeout, len(pending))
        _, not_done = await asyncio.wait(pending, timeout=timeout)
        if not_done:
            log.warning("wechat: %d late reply(ies) dropped at shutdown", len(not_done))
            for t in not_done:
                t.cancel()
            await asyncio.wait(not_done, timeout=1.0)
