"""微信公众号与企业微信回调共用的部分：签名、XML 加固与解析、加密信封、被动回复、迟到回复。

Protocol: shared/protocols.md §1 (WeChat Official Account) and §2 (WeCom, the
AES scheme of §1.5). The two callbacks differ in their query parameters, which
messages they accept and how they say "nothing to answer" (``success`` or an
empty body); the rest is here:

* `sha1_signature`, `signature_matches`, `check_signature`: the SHA-1 over the
  sorted (token, timestamp, nonce[, Encrypt / echostr]) and its constant-time check;
* `declares_dtd`, `parse_xml`: a body is refused before any parser sees a
  DOCTYPE or ENTITY declaration, then parsed with defusedxml (DTDs forbidden)
  into its top-level fields;
* `open_envelope`: the message inside an encrypted ``<Encrypt>`` body;
* `cdata`, `text_reply_xml`: the passive text reply;
* `Refused`: how a check says "reject this request with this status and reason";
* `TencentChannel`: ``receive``, the passive reply and the late-reply machinery —
  a reply not ready within the platform's ~5 s budget is answered "nothing" and
  sent later through the platform's API, a platform retry of a delivery still
  running here, or whose reply went the late way, is answered "nothing" too, and
  a passive text over 2048 bytes is cut on line ends, the rest following through
  the platform's API once the response has been sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from aiohttp import web
from defusedxml.common import DefusedXmlException

from bot.channels.base import Channel
from bot.inbound import Inbound, Reply
from bot.text import shorten, split_for_limit, utf8_len

if TYPE_CHECKING:
    from bot.runtime import Runtime

# Passive text replies (and the platforms' text messages) are cut at 2048 bytes of UTF-8.
MAX_TEXT_BYTES = 2048
# Event ids whose reply went out through the platform's API: a retry of one of
# them is answered "nothing". WeChat and WeCom retry within ~15 s.
LATE_MEMORY_SECONDS = 600.0
LATE_MEMORY_SIZE = 10_000

# Characters XML 1.0 does not allow in a document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(slots=True)
class Accepted:
    """A request that passed every check, and what its reply needs."""

    inbound: Inbound
    account: str  # the inbound ToUserName (our account / CorpID): the reply's FromUserName
    nonce: str
    encrypted: bool


class Refused(Exception):
    """The request is rejected with ``status``, counted by ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- signatures -----------------------------------------------------------------


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison; ``given`` may carry upper case and surrounding space."""
    return hmac.compare_digest(expected.encode("utf-8"), given.strip().lower().encode("utf-8"))


def check_signature(signature: str, token: str, *parts: str) -> str:
    """The expected signature over (token, *parts); Refused 403 when ``signature``
    is missing or is not it."""
    if not signature:
        raise Refused(403, "missing_signature")
    expected = sha1_signature(token, *parts)
    if not signature_matches(expected, signature):
        raise Refused(403, "bad_signature")
    return expected


def query_timestamp(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Refused(400, "bad_timestamp") from None


# -- XML ------------------------------------------------------------------------


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


def parse_xml(body: bytes) -> tuple[str, dict[str, str]]:
    """The body as text and its top-level fields; DTDs refused before parsing."""
    if not body.strip():
        raise Refused(400, "empty_body")
    if declares_dtd(body):
        raise Refused(400, "dtd_forbidden")
    try:
        text = body.decode("utf-8")  # WeChat and WeCom always send UTF-8
    except UnicodeDecodeError:
        raise Refused(400, "bad_encoding") from None
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise Refused(400, "dtd_forbidden") from None
    except ParseError:
        raise Refused(400, "bad_xml") from None
    if root.tag != "xml":
        raise Refused(400, "bad_xml")
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in fields:
            # wechatpy would see a list; the platforms never repeat a top-level field.
            raise Refused(400, "bad_xml")
        fields[child.tag] = (child.text or "").strip() if len(child) == 0 else ""
    return text, fields


def decrypt_envelope(
    crypto: Any,
    token: str,
    encrypt: str,
    timestamp: str,
    nonce: str,
    signature: str,
    *,
    check_fresh: Callable[[], None],
    refusals: Mapping[type[Exception], tuple[int, str]],
) -> str:
    """The plaintext of an encrypted envelope (protocols.md §1.5), checked in order.

    ``signature`` must be the one over ``encrypt`` (403 otherwise), then
    ``check_fresh`` (the replay check) runs, then ``crypto`` (a wechatpy
    ``WeChatCrypto``) decrypts. A decryption error is refused as ``refusals``
    says for its type (a wrong appid or CorpID), any other one with 400
    ``bad_encrypt``. Also the WeCom smart robot's JSON callbacks (empty receive id).
    """
    if not encrypt:
        raise Refused(400, "missing_encrypt")
    expected = check_signature(signature, token, timestamp, nonce, encrypt)
    check_fresh()
    try:
        return crypto.decrypt_message({"Encrypt": encrypt}, expected, timestamp, nonce)
    except Exception as exc:
        raise _refusal(exc, refusals, "bad_encrypt") from None


def _refusal(
    exc: Exception, refusals: Mapping[type[Exception], tuple[int, str]], reason: str
) -> Refused:
    """How a decryption error is refused: as ``refusals`` says for its type, else 400."""
    for kind, (status, why) in refusals.items():
        if isinstance(exc, kind):
            return Refused(status, why)
    return Refused(400, reason)


def open_envelope(
    crypto: Any,
    token: str,
    outer: Mapping[str, str],
    timestamp: str,
    nonce: str,
    signature: str,
    *,
    check_fresh: Callable[[], None],
    refusals: Mapping[type[Exception], tuple[int, str]],
) -> tuple[str, dict[str, str]]:
    """The message inside an encrypted XML body (``outer`` are its fields), parsed
    like a body; the checks are `decrypt_envelope`'s."""
    plain = decrypt_envelope(
        crypto,
        token,
        outer.get("Encrypt", "").strip(),
        timestamp,
        nonce,
        signature,
        check_fresh=check_fresh,
        refusals=refusals,
    )
    return parse_xml(plain.encode("utf-8"))


def verify_echostr(
    crypto: Any,
    token: str,
    query: Mapping[str, str],
    *,
    check_fresh: Callable[[int], None],
    refusals: Mapping[type[Exception], tuple[int, str]],
) -> str:
    """WeCom's URL verification (GET): the decrypted echostr, or Refused.

    ``msg_signature = sha1(sorted(token, timestamp, nonce, echostr))``; missing
    parameters → 400, a bad signature → 403, ``check_fresh(timestamp)`` (the
    replay check), then the echostr is decrypted (errors as in `decrypt_envelope`).
    """
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    # Base64 has no spaces: a space is a "+" that came without percent-encoding.
    echostr = query.get("echostr", "").replace(" ", "+")
    if not timestamp or not nonce or not echostr:
        raise Refused(400, "missing_params")
    ts = query_timestamp(timestamp)
    expected = check_signature(query.get("msg_signature", ""), token, timestamp, nonce, echostr)
    check_fresh(ts)
    try:
        return crypto.check_signature(expected, timestamp, nonce, echostr)
    except Exception as exc:
        raise _refusal(exc, refusals, "bad_echostr") from None


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


def reply_text(replies: list[Reply]) -> str:
    """The replies as one text, blank ones left out."""
    return "\n\n".join(r.text for r in replies if r.text.strip())


# -- the channel ----------------------------------------------------------------


class TencentChannel(Channel):
    """A callback the platform waits about 5 s for and then retries.

    Subclasses check and parse a request in ``_accept`` (raising `Refused`), read
    a message with wechatpy (``_read_message``, ``_event_name``), say how the
    platform is told "nothing to answer" (``quiet()``, described for the logs by
    ``quiet_words``), and send what does not fit in the passive reply
    (``_send_followups``) and what comes too late for it (``_send_late``). They
    set ``crypto`` (a wechatpy ``WeChatCrypto``, for encrypted requests),
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
        task: asyncio.Task[list[Reply]] = asyncio.create_task(self.rt.dispatcher.handle(inb))
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._inflight.pop(key, None))
        loop = asyncio.get_running_loop()
        remaining = budget - (loop.time() - started)
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(0.0, remaining))
        except TimeoutError:
            self.log.info("%s: %s not answered within the budget; replying later", self.name, key)
            self._deliver_later(task, inb)
            return None
        except asyncio.CancelledError:
            self._deliver_later(task, inb)
            raise

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
