"""企业微信自建应用回调：URL 验证（GET）与消息推送（POST，始终加密）。

Protocol: shared/protocols.md §2 (the AES scheme of §1.5, receive id = CorpID).
One route, ``/wecom``.

GET (URL verification)
    Query ``msg_signature``, ``timestamp``, ``nonce``, ``echostr`` (URL-decoded by
    aiohttp; a "+" that arrived unencoded and so became a space is put back).
    ``msg_signature = sha1(sorted(token, timestamp, nonce, echostr))``; echostr is
    decrypted (trailing receive id must be our CorpID) and the plaintext is the
    whole answer: text/plain, no quotes, BOM or newline.

POST (messages and events)
    Query ``msg_signature``, ``timestamp``, ``nonce``; body
    ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``. The signature over Encrypt is
    checked, the body decrypted with wechatpy's ``wechatpy.enterprise.crypto.WeChatCrypto``
    and parsed with ``wechatpy.enterprise.parse_message``. The answer is a text
    reply (``ToUserName`` = the member, ``FromUserName`` = the CorpID) in the
    encrypted envelope, ``Nonce`` echoing the request's, or an empty body when there
    is nothing to say.

    * Inbound: ``user_id`` = ``chat_id`` = FromUserName (the member's UserID),
      ``event_id`` = MsgId for messages, ``"<FromUserName>:<CreateTime>:<Event>"`` for events,
      ``extra["agent_id"]`` = AgentID. Kinds: ``text``; image / voice / video /
      location / link as their MsgType (the dispatcher answers "text only");
      events ``subscribe``, ``unsubscribe``, ``click`` (``extra["key"]``), ``view``
      (``extra["url"]``), ``location_report``, ``enter_agent`` and any other event by
      its lower-case name.
    * Which events reach the dispatcher: subscribe, unsubscribe and click always;
      any other event only when a handler is registered for its kind. The rest —
      ``enter_agent`` above all, which WeCom sends every time a member opens the
      app, but also location reports, contact-change and batch-job events — are
      answered with an empty body and nothing else happens. ``enter_agent`` is
      deliberately *not* mapped to ``subscribe``: greeting a member with the welcome
      text each time they open the app would be noise. ``subscribe`` (a member
      starts following the app) gets the welcome, as on the Official Account.
      Registering ``@router.on_event("enter_agent")`` makes this channel pass it on.
    * WeCom waits about 5 s and then retries (like WeChat, §1.3). A reply not ready
      within ``REPLY_BUDGET_SECONDS`` (4.5 s; ``wecom.reply_budget_seconds`` would
      override it if such a key is ever added) is answered with an empty body and
      sent later through the app message API:
      ``runtime.outbound.send("wecom:<userid>", text, purpose="late_reply")``,
      which records a Delivery row. A retry that arrives while the first delivery
      still runs here, or after its reply went the late way, gets an empty body, so
      nobody is answered twice; other duplicates are answered by the dispatcher's
      dedup (same reply, handler not run again).
    * A passive text over 2048 bytes is cut on line ends: the first part is the
      passive reply and the rest follows through the app message API
      (``purpose="followup"``) once the response has been sent.

Status codes (counted in ``lianxin_rejected_requests_total{platform="wecom"}``):

    400  timestamp, nonce (or echostr on GET) missing, or timestamp not a number;
         an empty, non-UTF-8 or malformed body, or one without Encrypt; a DOCTYPE
         or ENTITY declaration in the body or in the decrypted message (refused
         before any parser sees it; the parser refuses DTDs as defusedxml does);
         Encrypt / echostr that cannot be decrypted; a decrypted message without
         MsgType / FromUserName or with a bad CreateTime.
    403  msg_signature missing or wrong; the timestamp more than
         ``MAX_CLOCK_SKEW_SECONDS`` (300 s) away from our clock (replay); a
         message encrypted for another CorpID.
    413  body over ``server.max_body_bytes``.
    200  everything else, including any unexpected failure here, which is logged,
         counted as ``lianxin_events_total{platform="wecom",command="-",
         outcome="channel_error"}`` and answered with an empty body.

The XML helpers (DTD check, parsing with defusedxml's guards, signature, encrypted
envelope, CDATA reply) and the late-reply machinery are bot/channels/tencent.py's; the
WeChat channel shares them.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.events import (
    ClickEvent,
    EnterAgentEvent,
    LocationEvent,
    SubscribeEvent,
    UnsubscribeEvent,
    ViewEvent,
)
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.enterprise.messages import TextMessage

from bot.channels.tencent import (
    Accepted,
    Refused,
    TencentChannel,
    open_envelope,
    parse_xml,
    query_timestamp,
    verify_echostr,
)
from bot.config import ConfigError
from bot.inbound import Inbound

log = logging.getLogger("lianxin.channels.wecom")

# WeCom gives up after ~5 s; answer (empty, if need be) before that.
REPLY_BUDGET_SECONDS = 4.5
# Signed timestamps older (or newer) than this are replays.
MAX_CLOCK_SKEW_SECONDS = 300
# Events dispatched even without a handler of their own (the dispatcher knows them).
ALWAYS_DISPATCHED = frozenset({"subscribe", "unsubscribe", "click"})
# What the encrypted envelope's errors are refused as (others: 400 bad_encrypt).
_ENVELOPE_REFUSALS = {InvalidCorpIdException: (403, "wrong_corp_id")}


def _empty() -> web.Response:
    """Nothing to say: 200 with a 0-byte body (WeCom then shows and retries nothing)."""
    return web.Response(status=200, body=b"", content_type="text/plain")


class WecomChannel(TencentChannel):
    name = "wecom"
    path = "/wecom"
    quiet_words = "with an empty body"

    def __init__(self, runtime: Any) -> None:
        super().__init__(runtime)
        self.cfg = runtime.config.wecom
        try:
            self.crypto = WeChatCrypto(self.cfg.token, self.cfg.encoding_aes_key, self.cfg.corp_id)
        except Exception as exc:
            raise ConfigError(
                "wecom.encoding_aes_key: not a valid EncodingAESKey "
                "(43 characters from the app's 接收消息 settings)"
            ) from exc
        self.reply_budget = float(getattr(self.cfg, "reply_budget_seconds", REPLY_BUDGET_SECONDS))
        self.max_clock_skew = float(
            getattr(self.cfg, "max_clock_skew_seconds", MAX_CLOCK_SKEW_SECONDS)
        )

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.verify), web.post(self.path, self.receive)]

    def quiet(self) -> web.Response:
        return _empty()

    # -- GET: URL verification ------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        try:
            plain = verify_echostr(
                self.crypto,
                self.cfg.token,
                request.query,
                check_fresh=self._check_skew,
                refusals=_ENVELOPE_REFUSALS,
            )
        except Refused as refused:
            return self.reject(refused.status, refused.reason)
        return web.Response(body=plain.encode("utf-8"), content_type="text/plain")

    # -- POST: messages and events (receive: TencentChannel) -----------------

    async def _accept(self, request: web.Request) -> Accepted:
        """Check the query, read, verify, decrypt and parse; raise Refused on any problem."""
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not timestamp or not nonce:
            raise Refused(400, "missing_params")
        ts = query_timestamp(timestamp)
        signature = q.get("msg_signature", "")
        if not signature:
            raise Refused(403, "missing_signature")
        # aiohttp raises 413 here when the body is over client_max_size.
        body = await request.read()
        _, outer = parse_xml(body)
        text, fields = open_envelope(
            self.crypto,
            self.cfg.token,
            outer,
            timestamp,
            nonce,
            signature,
            check_fresh=lambda: self._check_skew(ts),
            refusals=_ENVELOPE_REFUSALS,
        )
        inbound = self._to_inbound(text, fields)
        return Accepted(inbound, fields.get("ToUserName") or self.cfg.corp_id, nonce, True)

    def _to_inbound(self, text: str, fields: dict[str, str]) -> Inbound:
        inbound = super()._to_inbound(text, fields)
        inbound.extra["agent_id"] = fields.get("AgentID", "")
        return inbound

    def _read_message(self, text: str, fields: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        return self._classify(parse_message(text), fields)

    def _event_name(self, fields: dict[str, str]) -> str:
        # Two menu buttons clicked within one second differ by their EventKey.
        name = fields.get("Event", "")
        return f"{name}:{fields.get('EventKey', '')}" if name.lower() == "click" else name

    @staticmethod
    def _classify(msg: Any, fields: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        """(kind, text, extra) for one wechatpy.enterprise message or event."""
        if isinstance(msg, TextMessage):
            return "text", msg.content or "", {}
        if isinstance(msg, SubscribeEvent):
            return "subscribe", "", {}
        if isinstance(msg, UnsubscribeEvent):
            return "unsubscribe", "", {}
        if isinstance(msg, ClickEvent):
            return "click", "", {"key": msg.key or ""}
        if isinstance(msg, ViewEvent):
            return "view", "", {"url": msg.url or ""}
        if isinstance(msg, EnterAgentEvent):
            return "enter_agent", "", {"key": fields.get("EventKey", "")}
        if isinstance(msg, LocationEvent):
            extra = {
                "lat": fields.get("Latitude", ""),
                "lng": fields.get("Longitude", ""),
                "precision": fields.get("Precision", ""),
            }
            return "location_report", "", extra
        msg_type = fields["MsgType"].lower()
        if msg_type == "event":
            event = fields.get("Event", "").lower()
            return event or "event", "", {"key": fields.get("EventKey", "")}
        extra = {"media_id": fields["MediaId"]} if fields.get("MediaId") else {}
        return msg_type, "", extra

    def _dispatched(self, inb: Inbound) -> bool:
        if inb.raw.get("MsgType", "").lower() != "event":
            return True
        return inb.kind in ALWAYS_DISPATCHED or inb.kind in self.rt.registry.events

    # -- answering -----------------------------------------------------------

    async def _answer(
        self, request: web.Request, req: Accepted, started: float
    ) -> web.StreamResponse:
        inb = req.inbound
        if not self._dispatched(inb):
            log.debug("wecom: %s event from %s not dispatched", inb.kind, inb.user_id)
            self.rt.metrics.events.labels(self.name, inb.kind, "ignored").inc()
            return _empty()
        return await super()._answer(request, req, started)

    async def _send_followups(self, inb: Inbound, parts: list[str]) -> None:
        await self._send_later(inb, parts, "followup")

    async def _send_late(self, inb: Inbound, text: str) -> None:
        # The sender cuts a long text into several messages itself.
        await self._send_later(inb, [text], "late_reply")

    async def _send_later(self, inb: Inbound, parts: list[str], purpose: str) -> None:
        """App messages through the outbound layer (a Delivery row each), in order."""
        outbound = self.rt.outbound
        if outbound is None:
            log.warning("wecom: %d message(s) for %s dropped: no outbound", len(parts), inb.user_id)
            return
        for i, part in enumerate(parts):
            try:
                row = await outbound.send(f"wecom:{inb.user_id}", part, purpose=purpose)
            except Exception:
                log.exception("wecom: %s for %s raised", purpose, inb.event_id)
                return
            if row.status != "sent":
                log.warning(
                    "wecom: %s for %s %s (%s %s); %d part(s) not sent",
                    purpose,
                    inb.event_id,
                    row.status,
                    row.error_code,
                    row.reason,
                    len(parts) - i - 1,
                )
                return
