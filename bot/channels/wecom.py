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
         before any parser sees it; the parser is defusedxml with DTDs forbidden);
         Encrypt / echostr that cannot be decrypted; a decrypted message without
         MsgType / FromUserName or with a bad CreateTime.
    403  msg_signature missing or wrong; the timestamp more than
         ``MAX_CLOCK_SKEW_SECONDS`` (300 s) away from our clock (replay); a
         message encrypted for another CorpID.
    413  body over ``server.max_body_bytes``.
    200  everything else, including any unexpected failure here, which is logged,
         counted as ``lianxin_events_total{platform="wecom",command="-",
         outcome="channel_error"}`` and answered with an empty body.

The XML helpers (DTD check, defusedxml parsing, signature, CDATA reply) are the
WeChat channel's; the two protocols share them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
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

from bot.channels.base import Channel
from bot.channels.wechat import (
    WechatChannel,
    _Refused,
    _same,
    _sha1_signature,
    text_reply_xml,
)
from bot.config import ConfigError
from bot.inbound import Inbound, Reply
from bot.text import split_for_limit, utf8_len

log = logging.getLogger("lianxin.channels.wecom")

# WeCom gives up after ~5 s; answer (empty, if need be) before that.
REPLY_BUDGET_SECONDS = 4.5
# Signed timestamps older (or newer) than this are replays.
MAX_CLOCK_SKEW_SECONDS = 300
# Passive and app text messages carry at most 2048 bytes of UTF-8.
MAX_TEXT_BYTES = 2048
# Events dispatched even without a handler of their own (the dispatcher knows them).
ALWAYS_DISPATCHED = frozenset({"subscribe", "unsubscribe", "click"})
# Event ids whose reply went out through the app message API: a retry of one of
# them is answered with an empty body. WeCom retries within ~15 s.
LATE_MEMORY_SECONDS = 600.0
LATE_MEMORY_SIZE = 10_000

_parse_xml = WechatChannel._parse_xml


@dataclass(slots=True)
class _Request:
    inbound: Inbound
    corp_id: str  # the inbound ToUserName: our CorpID, the reply's FromUserName
    nonce: str


def _empty() -> web.Response:
    """Nothing to say: 200 with a 0-byte body (WeCom then shows and retries nothing)."""
    return web.Response(status=200, body=b"", content_type="text/plain")


class WecomChannel(Channel):
    name = "wecom"
    path = "/wecom"

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
        # Wall clock for the replay check and reply timestamps (tests pin it).
        self.clock: Callable[[], float] = time.time
        # Background deliveries (late replies, follow-up parts), awaited at shutdown.
        self._tasks: set[asyncio.Task[None]] = set()
        # event_id → the dispatcher task of a delivery still running here.
        self._inflight: dict[str, asyncio.Task[list[Reply]]] = {}
        # event_id → loop time its reply was handed to the app message API.
        self._late: OrderedDict[str, float] = OrderedDict()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.verify), web.post(self.path, self.receive)]

    # -- GET: URL verification ------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        # Base64 has no spaces: a space is a "+" that came without percent-encoding.
        echostr = q.get("echostr", "").replace(" ", "+")
        signature = q.get("msg_signature", "")
        if not timestamp or not nonce or not echostr:
            return self.reject(400, "missing_params", "timestamp, nonce and echostr are required")
        try:
            ts = self._timestamp(timestamp)
            if not signature:
                raise _Refused(403, "missing_signature")
            expected = _sha1_signature(self.cfg.token, timestamp, nonce, echostr)
            if not _same(expected, signature):
                raise _Refused(403, "bad_signature")
            self._check_skew(ts)
            try:
                plain = self.crypto.check_signature(expected, timestamp, nonce, echostr)
            except InvalidCorpIdException:
                raise _Refused(403, "wrong_corp_id") from None
            except Exception:
                raise _Refused(400, "bad_echostr") from None
        except _Refused as refused:
            return self.reject(refused.status, refused.reason)
        return web.Response(body=plain.encode("utf-8"), content_type="text/plain")

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
            log.exception("wecom: unexpected failure, answering with an empty body")
            self.rt.metrics.events.labels(self.name, "-", "channel_error").inc()
            return _empty()

    async def _accept(self, request: web.Request) -> _Request:
        """Check the query, read, verify, decrypt and parse; raise _Refused on any problem."""
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not timestamp or not nonce:
            raise _Refused(400, "missing_params")
        ts = self._timestamp(timestamp)
        signature = q.get("msg_signature", "")
        if not signature:
            raise _Refused(403, "missing_signature")
        # aiohttp raises 413 here when the body is over client_max_size.
        body = await request.read()
        _, outer = _parse_xml(body)
        encrypt = outer.get("Encrypt", "").strip()
        if not encrypt:
            raise _Refused(400, "missing_encrypt")
        expected = _sha1_signature(self.cfg.token, timestamp, nonce, encrypt)
        if not _same(expected, signature):
            raise _Refused(403, "bad_signature")
        self._check_skew(ts)
        try:
            plain = self.crypto.decrypt_message({"Encrypt": encrypt}, expected, timestamp, nonce)
        except InvalidCorpIdException:
            raise _Refused(403, "wrong_corp_id") from None
        except Exception:
            raise _Refused(400, "bad_encrypt") from None
        text, fields = _parse_xml(plain.encode("utf-8"))
        inbound = self._to_inbound(text, fields)
        return _Request(inbound, fields.get("ToUserName") or self.cfg.corp_id, nonce)

    @staticmethod
    def _timestamp(value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise _Refused(400, "bad_timestamp") from None

    def _check_skew(self, ts: int) -> None:
        if abs(self.clock() - ts) > self.max_clock_skew:
            raise _Refused(403, "stale_timestamp")

    def _to_inbound(self, text: str, fields: dict[str, str]) -> Inbound:
        msg_type = fields.get("MsgType", "")
        user_id = fields.get("FromUserName", "")
        if not msg_type or not user_id:
            raise _Refused(400, "missing_fields")
        try:
            create_time = int(fields.get("CreateTime", ""))
        except ValueError:
            raise _Refused(400, "bad_create_time") from None
        try:
            msg = parse_message(text)
            kind, body, extra = self._classify(msg, fields)
        except Exception:
            log.info("wecom: unparsable %s message", msg_type, exc_info=True)
            raise _Refused(400, "bad_message") from None
        if msg_type.lower() == "event" or not fields.get("MsgId"):
            event_id = f"{user_id}:{create_time}:{fields.get('Event', '')}"
        else:
            event_id = fields["MsgId"]
        extra["agent_id"] = fields.get("AgentID", "")
        return Inbound(
            platform=self.name,
            user_id=user_id,
            chat_id=user_id,
            text=body,
            is_group=False,
            kind=kind,
            event_id=event_id,
            timestamp=float(create_time),
            raw=fields,
            extra=extra,
        )

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
        self, request: web.Request, req: _Request, started: float
    ) -> web.StreamResponse:
        inb = req.inbound
        if not self._dispatched(inb):
            log.debug("wecom: %s event from %s not dispatched", inb.kind, inb.user_id)
            self.rt.metrics.events.labels(self.name, inb.kind, "ignored").inc()
            return _empty()
        key = inb.event_id
        self._forget_old_late()
        if key in self._inflight or key in self._late:
            # A WeCom retry of a delivery that is still running here, or whose
            # reply goes out through the app message API: answer nothing.
            self.rt.metrics.dedup_hits.labels(self.name).inc()
            log.info("wecom: retry of %s answered with an empty body", key)
            return _empty()
        task: asyncio.Task[list[Reply]] = asyncio.create_task(self.rt.dispatcher.handle(inb))
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._inflight.pop(key, None))
        loop = asyncio.get_running_loop()
        remaining = self.reply_budget - (loop.time() - started)
        try:
            replies = await asyncio.wait_for(asyncio.shield(task), max(0.0, remaining))
        except TimeoutError:
            log.info("wecom: %s not answered within the budget; replying later", key)
            self._deliver_later(task, inb)
            return _empty()
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
            return _empty()
        followups: list[str] = []
        if utf8_len(text) > MAX_TEXT_BYTES:
            parts = [p for p in split_for_limit(text, MAX_TEXT_BYTES) if p.strip()]
            text, followups = parts[0], parts[1:]
        now = str(int(self.clock()))
        xml = text_reply_xml(inb.user_id, req.corp_id, text, int(now))
        envelope = self.crypto.encrypt_message(xml, req.nonce, now)
        resp = web.Response(text=envelope, content_type="application/xml")
        if followups:
            # Hand the passive part to WeCom first, then send the rest.
            await resp.prepare(request)
            await resp.write_eof()
            self._spawn(self._send_later(inb, followups, "followup"))
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
            _, at = next(iter(self._late.items()))
            if at >= cutoff:
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
            log.exception("wecom: late handler for %s failed", inb.event_id)
            self.rt.metrics.sends.labels(self.name, "error").inc()
            return
        text = "\n\n".join(r.text for r in replies if r.text.strip())
        if text.strip():
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

    async def shutdown(self) -> None:
        """Wait (bounded by server.shutdown_timeout) for late replies still on their way."""
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return
        timeout = self.rt.config.server.shutdown_timeout
        log.info("wecom: waiting up to %.1fs for %d late reply(ies)", timeout, len(pending))
        _, not_done = await asyncio.wait(pending, timeout=timeout)
        if not_done:
            log.warning("wecom: %d late reply(ies) dropped at shutdown", len(not_done))
            for t in not_done:
                t.cancel()
            await asyncio.wait(not_done, timeout=1.0)
