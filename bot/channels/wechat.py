"""微信公众号渠道：URL 验证（GET）与消息推送（POST，明文 / 兼容 / 安全模式）。

Protocol: shared/protocols.md §1. One route, ``/wechat``.

GET (URL verification)
    ``signature = sha1(sorted(token, timestamp, nonce))``; the answer is ``echostr``
    verbatim (text/plain).

POST (messages and events)
    * ``encrypt_type=aes`` in the query: ``msg_signature`` over
      (token, timestamp, nonce, Encrypt) is checked, the body decrypted with
      bot/channels/tencent_aes.py (trailing appid checked) and the reply goes
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
         sees it, and the parser itself refuses any DTD, entity declaration or
         external reference as defusedxml does, so nothing is ever expanded or
         fetched); a message without
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

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from wechatpy import parse_message
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

from bot.channels.tencent import (
    MAX_TEXT_BYTES,
    Accepted,
    Refused,
    TencentChannel,
    check_signature,
    open_envelope,
    parse_xml,
    query_timestamp,
)
from bot.channels.tencent_aes import AesEnvelope
from bot.inbound import Inbound
from bot.text import shorten, split_for_limit

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.channels.wechat")

SUCCESS = "success"
# Customer-service messages allowed after one interaction (protocols.md §1.6).
MAX_FOLLOWUPS_AFTER_MESSAGE = 5
MAX_FOLLOWUPS_AFTER_EVENT = 3


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _success() -> web.Response:
    return web.Response(text=SUCCESS, content_type="text/plain")


# What the encrypted envelope's errors are refused as (others: 400 bad_encrypt).
_ENVELOPE_REFUSALS = {
    InvalidAppIdException: (403, "wrong_appid"),
    InvalidSignatureException: (403, "bad_signature"),
}


class WechatChannel(TencentChannel):
    name = "wechat"
    path = "/wechat"
    quiet_words = SUCCESS

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.cfg = runtime.config.wechat
        self.crypto = self._make_crypto()

    def _make_crypto(self) -> AesEnvelope | None:
        if not (self.cfg.encoding_aes_key and self.cfg.appid):
            return None
        try:
            return AesEnvelope(self.cfg.token, self.cfg.encoding_aes_key, self.cfg.appid)
        except Exception:
            # Only reachable in plain mode (validate() checks the key otherwise).
            log.warning("wechat.encoding_aes_key is not a valid EncodingAESKey; AES disabled")
            return None

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.verify), web.post(self.path, self.receive)]

    def quiet(self) -> web.Response:
        return _success()

    @property
    def reply_budget(self) -> float:  # type: ignore[override]
        return self.cfg.reply_budget_seconds

    @property
    def max_clock_skew(self) -> float:  # type: ignore[override]
        return self.cfg.max_clock_skew_seconds

    # -- GET: URL verification ------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        echostr, signature = q.get("echostr", ""), q.get("signature", "")
        if not timestamp or not nonce or not echostr:
            return self.reject(400, "missing_params", "timestamp, nonce and echostr are required")
        try:
            ts = query_timestamp(timestamp)
            check_signature(signature, self.cfg.token, timestamp, nonce)
            self._check_skew(ts)
        except Refused as refused:
            return self.reject(refused.status, refused.reason)
        return web.Response(text=echostr, content_type="text/plain")

    # -- POST: messages and events (receive: TencentChannel) -----------------

    async def _accept(self, request: web.Request) -> Accepted:
        """Check the query, read, verify, decrypt and parse; raise Refused on any problem."""
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not timestamp or not nonce:
            raise Refused(400, "missing_params")
        ts = query_timestamp(timestamp)
        encrypted = q.get("encrypt_type", "").lower() == "aes"
        msg_signature = q.get("msg_signature", "")
        if encrypted:
            if self.crypto is None:
                raise Refused(400, "no_aes_key")
            if not msg_signature:
                raise Refused(403, "missing_signature")
        else:
            if self.cfg.mode == "safe":
                raise Refused(403, "plain_refused")
            check_signature(q.get("signature", ""), self.cfg.token, timestamp, nonce)
            self._check_skew(ts)

        # aiohttp raises 413 here when the body is over client_max_size.
        body = await request.read()
        text, fields = parse_xml(body)
        if encrypted:
            text, fields = open_envelope(
                self.crypto,
                self.cfg.token,
                fields,
                timestamp,
                nonce,
                msg_signature,
                check_fresh=lambda: self._check_skew(ts),
                refusals=_ENVELOPE_REFUSALS,
            )
        inbound = self._to_inbound(text, fields)
        return Accepted(inbound, fields.get("ToUserName", ""), nonce, encrypted)

    def _read_message(self, text: str, fields: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        if fields.get("MsgType") == "text":
            # Most traffic: the fields are already parsed, no second pass through wechatpy.
            return "text", fields.get("Content", ""), {}
        return self._classify(parse_message(text), fields)

    def _event_name(self, fields: dict[str, str]) -> str:
        # FromUserName+CreateTime (WeChat's rule), plus the event: a subscribe and the
        # LOCATION report that follows it in the same second are two events; so are two
        # menu buttons clicked within one second (the EventKey tells them apart).
        name = fields.get("Event", fields["MsgType"])
        if name.lower() == "click":
            return f"{name}:{fields.get('EventKey', '')}"
        return name

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

    # -- answering (TencentChannel) -----------------------------------------

    def _can_follow_up(self) -> bool:
        return self.rt.senders.get("wechat") is not None

    async def _send_followups(self, inb: Inbound, parts: list[str]) -> None:
        await self._send_texts(inb, parts)

    async def _send_late(self, inb: Inbound, text: str) -> None:
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
