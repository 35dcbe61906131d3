"""微信公众号与企业微信回调共用的通道：被动回复、迟到回复（线上格式见 tencent_wire.py）。

The two callbacks differ in their query parameters, which messages they accept and how
they say "nothing to answer" (``success`` or an empty body); the rest is here.
`TencentChannel`: ``receive``, the passive reply and the late-reply machinery — a reply
not ready within the platform's ~5 s budget is answered "nothing" and sent later through
the platform's API, a platform retry of a delivery still running here, or whose reply went
the late way, is answered "nothing" too, and a passive text over 2048 bytes is cut on
line ends, the rest following through the platform's API once the response has been sent.
Signatures, XML and the encrypted envelope: bot/channels/tencent_wire.py (re-exported).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.channels.base import Channel
from bot.channels.tencent_wire import (
    MAX_TEXT_BYTES,
    Accepted,
    Refused,
    cdata,
    check_signature,
    declares_dtd,
    decrypt_envelope,
    open_envelope,
    parse_xml,
    query_timestamp,
    reply_text,
    sha1_signature,
    signature_matches,
    text_reply_xml,
    verify_echostr,
)
from bot.inbound import Inbound, Reply
from bot.text import shorten, split_for_limit, utf8_len

if TYPE_CHECKING:
    from bot.runtime import Runtime

__all__ = [
    "MAX_TEXT_BYTES",
    "Accepted",
    "Refused",
    "TencentChannel",
    "cdata",
    "check_signature",
    "declares_dtd",
    "decrypt_envelope",
    "open_envelope",
    "parse_xml",
    "query_timestamp",
    "reply_text",
    "sha1_signature",
    "signature_matches",
    "text_reply_xml",
    "verify_echostr",
]

# Event ids whose reply went out through the platform's API: a retry of one of
# them is answered "nothing". WeChat and WeCom retry within ~15 s.
LATE_MEMORY_SECONDS = 600.0
LATE_MEMORY_SIZE = 10_000


# -- the channel ----------------------------------------------------------------


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class TencentChannel(Channel):
    """A callback the platform waits about 5 s for and then retries.

    Subclasses check and parse a request in ``_accept`` (raising `Refused`), read
    a message with wechatpy (``_read_message``, ``_event_name``), say how the
    platform is told "nothing to answer" (``quiet()``, described for the logs by
    ``quiet_words``), and send what does not fit in the passive reply
    (``_send_followups``) and what comes too late for it (``_send_late``). They
    set ``crypto`` (for encrypted requests: WeCom's is wechatpy's ``WeChatCrypto``,
    the Official Account's ``tencent_aes.AesEnvelope`` with the same methods),
    ``reply_budget`` and ``max_clock_skew`` (seconds).
    """

    # How quiet() reads in a log line: "answered <quiet_words>".
    quiet_words: str = ""
    crypto: Any = None
    reply_budget: float
    max_clock_skew: float

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.log = logging.getLogger(f"lianxin.channels.{self.name}")
        # Wall clock for the replay check and reply timestamps (tests pin it).
        self.clock: Callable[[], float] = time.time
        # Background deliveries (late replies, follow-up parts), awaited at shutdown.
        self._tasks: set[asyncio.Task[None]] = set()
        # event_id → the dispatcher task of a delivery still running here.
        self._inflight: dict[str, asyncio.Task[list[Reply]]] = {}
        # event_id → loop time its reply was handed to the late path.
        self._late: OrderedDict[str, float] = OrderedDict()

    @abstractmethod
    def quiet(self) -> web.Response:
        """The answer that says nothing (the platform shows and retries nothing)."""

    @abstractmethod
    async def _accept(self, request: web.Request) -> Accepted:
        """Check the query, read, verify, decrypt and parse; raise Refused on any problem."""

    @abstractmethod
    def _read_message(self, text: str, fields: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        """(kind, text, extra) of a decrypted message, parsed by wechatpy."""

    @abstractmethod
    def _event_name(self, fields: dict[str, str]) -> str:
        """What ends the event id of an event (or of a message without MsgId)."""

    @abstractmethod
    async def _send_late(self, inb: Inbound, text: str) -> None:
        """Send the reply to ``inb`` that was not ready in time (not blank)."""

    @abstractmethod
    async def _send_followups(self, inb: Inbound, parts: list[str]) -> None:
        """Send the parts of a long reply after the first (the passive one), in order."""

    def _can_follow_up(self) -> bool:
        """Whether the rest of a long reply can be sent (else it is shortened with "…")."""
        return True

    def _check_skew(self, ts: int) -> None:
        """Refused 403 when the signed timestamp is too far from our clock (a replay)."""
        if abs(self.clock() - ts) > self.max_clock_skew:
            raise Refused(403, "stale_timestamp")

    def _to_inbound(self, text: str, fields: dict[str, str]) -> Inbound:
        msg_type = fields.get("MsgType", "")
        user_id = fields.get("FromUserName", "")
        if not msg_type or not user_id:
            raise Refused(400, "missing_fields")
        try:
            create_time = int(fields.get("CreateTime", ""))
        except ValueError:
            raise Refused(400, "bad_create_time") from None
        try:
            kind, body, extra = self._read_message(text, fields)
        except Refused:
            raise
        except Exception:
            self.log.info("%s: unparsable %s message", self.name, msg_type, exc_info=True)
            raise Refused(400, "bad_message") from None
        if msg_type.lower() == "event" or not fields.get("MsgId"):
            event_id = f"{user_id}:{create_time}:{self._event_name(fields)}"
        else:
            event_id = fields["MsgId"]
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

    # -- POST: messages and events ------------------------------------------

    async def receive(self, request: web.Request) -> web.StreamResponse:
        started = asyncio.get_running_loop().time()
        try:
            req = await self._accept(request)
            return await self._answer(request, req, started)
        except Refused as refused:
            return self.reject(refused.status, refused.reason)
        except web.HTTPRequestEntityTooLarge:
            self.rt.metrics.rejected.labels(self.name, "too_large").inc()
            raise
        except web.HTTPException:
            raise
        except Exception:
            self.log.exception("%s: unexpected failure, answering %s", self.name, self.quiet_words)
            self.rt.metrics.events.labels(self.name, "-", "channel_error").inc()
            return self.quiet()

    # -- answering ----------------------------------------------------------

    async def _answer(
        self, request: web.Request, req: Accepted, started: float
    ) -> web.StreamResponse:
        # None: a platform retry of a delivery still running here or whose reply
        # goes out through the platform's API, or a reply that will go that way.
        replies = await self._replies_in_time(req.inbound, self.reply_budget, started)
        if replies is None:
            return self.quiet()
        return await self._passive(request, req, replies)

    async def _passive(
        self, request: web.Request, req: Accepted, replies: list[Reply]
    ) -> web.StreamResponse:
        inb = req.inbound
        text = reply_text(replies)
        if not text.strip():
            return self.quiet()
        followups: list[str] = []
        if utf8_len(text) > MAX_TEXT_BYTES:
            if self._can_follow_up():
                parts = [p for p in split_for_limit(text, MAX_TEXT_BYTES) if p.strip()]
                text, followups = parts[0], parts[1:]
            else:
                text = shorten(text, MAX_TEXT_BYTES)
        now = int(self.clock())
        xml = text_reply_xml(inb.user_id, req.account, text, now)
        if req.encrypted:
            xml = self.crypto.encrypt_message(xml, req.nonce, str(now))
        resp = web.Response(text=xml, content_type="application/xml")
        if followups:
            # Hand the passive part to the platform first, then send the rest.
            await resp.prepare(request)
            await resp.write_eof()
            self._spawn(self._send_followups(inb, followups))
        return resp

    # -- waiting for the dispatcher, and what comes too late ----------------

    async def _replies_in_time(
        self, inb: Inbound, budget: float, started: float
    ) -> list[Reply] | None:
        """The replies to ``inb`` if ready ``budget`` seconds after ``started``.

        None when the answer is quiet(): a platform retry of a delivery still
        running here, or whose reply goes the late way (counted as a dedup hit),
        and a delivery not answered within the budget, whose reply then goes out
        through ``_send_late`` when the handler finishes.
        """
        key = inb.event_id
        self._forget_old_late()
        if key in self._inflight or key in self._late:
            self.rt.metrics.dedup_hits.labels(self.name).inc()
            self.log.info("%s: retry of %s answered %s", self.name, key, self.quiet_words)
            return None
        loop = asyncio.get_running_loop()
        # The request waits on ``waiter``, woken by the handler's own last step or by the
        # budget's timer (the handler is never cancelled). Woken from inside the handler's
        # task, not by a done-callback: one pass of the event loop less per request, and
        # at concurrency 64 each pass holds dozens of other requests' work (issue #15).
        waiter: asyncio.Future[None] = loop.create_future()
        task = asyncio.create_task(self._handle(key, inb, waiter))
        self._inflight[key] = task
        remaining = budget - (loop.time() - started)
        timer = loop.call_later(remaining, _wake, waiter) if remaining > 0 else None
        try:
            if timer is not None:
                await waiter
        except asyncio.CancelledError:
            self._deliver_later(task, inb)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if task.done():
            return task.result()
        self.log.info("%s: %s not answered within the budget; replying later", self.name, key)
        self._deliver_later(task, inb)
        return None

    async def _handle(self, key: str, inb: Inbound, waiter: asyncio.Future[None]) -> list[Reply]:
        """The dispatcher's replies to ``inb``; wakes the request waiting on ``waiter``."""
        try:
            return await self.rt.dispatcher.handle(inb)
        finally:
            self._inflight.pop(key, None)
            _wake(waiter)

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
            self.log.exception("%s: late handler for %s failed", self.name, inb.event_id)
            self.rt.metrics.sends.labels(self.name, "error").inc()
            return
        text = reply_text(replies)
        if text.strip():
            await self._send_late(inb, text)

    async def shutdown(self) -> None:
        """Wait (bounded by server.shutdown_timeout) for late replies still on their way."""
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return
        timeout = self.rt.config.server.shutdown_timeout
        self.log.info(
            "%s: waiting up to %.1fs for %d late reply(ies)", self.name, timeout, len(pending)
        )
        _, not_done = await asyncio.wait(pending, timeout=timeout)
        if not_done:
            self.log.warning("%s: %d late reply(ies) dropped at shutdown", self.name, len(not_done))
            for t in not_done:
                t.cancel()
            await asyncio.wait(not_done, timeout=1.0)
