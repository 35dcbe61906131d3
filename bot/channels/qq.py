"""QQ 官方机器人 Webhook：POST /qq。

Sources: shared/protocols.md §4 (tencent-connect/bot-docs ``event-emit.md``,
``sign.md``, ``send-receive/event.md``; tencent-connect/botgo
``interaction/webhook/webhook.go``; nonebot/adapter-qq ``adapter.py``).

Request checks, in order (every refusal is counted by `Channel.reject`):

* A request that carries ``X-Signature-Ed25519`` is verified first: the hex of a
  64-byte Ed25519 signature (``sig[63] & 224 == 0``) over
  ``X-Signature-Timestamp + raw body``, with the public key derived from the bot
  secret; a bad signature → 401, a timestamp more than `MAX_SKEW_SECONDS` off →
  401 (a replayed request).
* op 13 (callback URL validation) is answered whether or not it is signed:
  ``{"plain_token", "signature": hex(sign(event_ts + plain_token))}``. Unsigned,
  it is answered only for a digits-only ``event_ts`` and a ``plain_token`` of
  letters, digits, ``-`` and ``_``: otherwise anyone could have us sign
  ``timestamp + {json}``, i.e. forge a dispatch.
* Anything else unsigned → 401. Malformed JSON → 400. ``X-Bot-Appid`` missing or
  not ours → 403.

Dispatch (op 0): ``GROUP_AT_MESSAGE_CREATE`` and ``C2C_MESSAGE_CREATE`` become an
`Inbound` (see `_inbound`); every other event and op is acknowledged and ignored.
The answer is always immediate — HTTP 200 ``{"op": 12, "d": 0}`` — and the
dispatcher runs in a background task whose replies go out as passive replies
(``msg_id`` = the user's message id, ``msg_seq`` 1, 2, 3…; at most five, the last
one carrying any overflow) through the QQ sender. Background tasks are awaited at
shutdown, bounded by ``server.shutdown_timeout``.

The platform may push one message more than once. Within a process a message id
(``d.id``) or envelope id seen in the last `SEEN_SECONDS` is acknowledged and not
handled again; across processes the dispatcher's dedup keeps the work from running
twice (its stored answer is re-sent, and the platform refuses a repeated
``msg_id + msg_seq``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from bot.channels.base import Channel
from bot.inbound import Inbound, Reply
from bot.senders.qq import MAX_REPLIES_PER_MESSAGE, QQSender
from bot.targets import Target

log = logging.getLogger("lianxin.qq")

OP_DISPATCH = 0
OP_ACK = 12
OP_VALIDATION = 13

# A signed request whose timestamp is further than this from our clock is refused.
MAX_SKEW_SECONDS = 300.0
# How long a message id is remembered against duplicate pushes (C2C replies are
# possible for 60 minutes), and how many ids at most.
SEEN_SECONDS = 65 * 60
SEEN_MAX = 50_000

MESSAGE_EVENTS = {"GROUP_AT_MESSAGE_CREATE", "C2C_MESSAGE_CREATE"}

# attachments[].content_type prefix → Inbound.kind for a message without text.
MEDIA_KINDS = {"image": "image", "voice": "voice", "audio": "voice", "video": "video"}

_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_EVENT_TS = re.compile(r"[0-9]{1,20}")
# A mention tag at the start of content: <@!123>, <@openid>.
_LEADING_MENTION = re.compile(r"^\s*(?:<@!?[^>\s]*>\s*)+")

_ACK = {"op": OP_ACK, "d": 0}


# -- Ed25519, as sign.md describes it --------------------------------------------


def seed_from_secret(secret: str) -> bytes:
    """The 32-byte seed: the secret repeated until it is at least 32 bytes, cut to 32."""
    raw = secret.encode("utf-8")
    if not raw:
        raise ValueError("qq.secret is empty")
    return (raw * (32 // len(raw) + 1))[:32]


def signing_key(secret: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed_from_secret(secret))


def sign_validation(key: Ed25519PrivateKey, event_ts: str, plain_token: str) -> str:
    """The op-13 answer's signature: hex(sign(event_ts + plain_token))."""
    return key.sign((event_ts + plain_token).encode("utf-8")).hex()


def verify_signature(public: Ed25519PublicKey, timestamp: str, body: bytes, sig_hex: str) -> bool:
    """Check X-Signature-Ed25519 over timestamp + raw body (sign.md)."""
    try:
        sig = bytes.fromhex(sig_hex.strip())
    except ValueError:
        return False
    if len(sig) != 64 or sig[63] & 224 != 0:
        return False
    try:
        public.verify(sig, timestamp.encode("utf-8") + body)
    except InvalidSignature:
        return False
    return True


# -- payload → Inbound -------------------------------------------------------------


def message_text(content: Any) -> str:
    """The content without the space the @ leaves, or a leading mention tag."""
    if not isinstance(content, str):
        return ""
    return _LEADING_MENTION.sub("", content).strip()


def attachment_url(attachments: Any) -> str:
    """The first attachment's URL (the platform hosts it), or ""."""
    for item in attachments if isinstance(attachments, list) else []:
        if isinstance(item, dict):
            return str(item.get("url") or "")
    return ""


def media_kind(attachments: Any) -> str:
    if not isinstance(attachments, list):
        return ""
    for item in attachments:
        if isinstance(item, dict):
            ctype = str(item.get("content_type") or "").lower()
            major = ctype.partition("/")[0]
            return MEDIA_KINDS.get(major, "file")
    return ""


def parse_timestamp(value: Any) -> float:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    return time.time()


class QQChannel(Channel):
    name = "qq"
    path = "/qq"

    def __init__(self, runtime: Any) -> None:
        super().__init__(runtime)
        cfg = runtime.config.qq
        self.appid: str = cfg.appid
        self._key = signing_key(cfg.secret)
        self._public = self._key.public_key()
        self.max_skew = MAX_SKEW_SECONDS
        # Injectable for tests: the clock the signature timestamp is compared with.
        self.clock: Callable[[], float] = time.time
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.path, self.handle)]

    # -- request ---------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        signature = headers.get("X-Signature-Ed25519")
        signed = signature is not None
        if signed:
            refusal = self._check_signature(signature or "", headers, body)
            if refusal is not None:
                return refusal
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            data = None
        if not signed and not (isinstance(data, dict) and data.get("op") == OP_VALIDATION):
            return self.reject(401, "no_signature", "missing X-Signature-Ed25519")
        if not isinstance(data, dict):
            return self.reject(400, "bad_json", "body must be a JSON object")
        if headers.get("X-Bot-Appid", "").strip() != self.appid:
            return self.reject(403, "wrong_appid", "X-Bot-Appid is not this bot")
        op, event = data.get("op"), data.get("t")
        if op == OP_VALIDATION:
            return self._validation(data.get("d"), signed)
        if op == OP_DISPATCH and isinstance(event, str) and event in MESSAGE_EVENTS:
            return self._message(data)
        log.debug("qq: acknowledged op %r %r", op, event)
        return _ack()

    def _check_signature(self, signature: str, headers: Any, body: bytes) -> web.Response | None:
        stamp = headers.get("X-Signature-Timestamp", "").strip()
        if not stamp:
            return self.reject(401, "no_signature", "missing X-Signature-Timestamp")
        if not verify_signature(self._public, stamp, body, signature):
            return self.reject(401, "bad_signature", "wrong X-Signature-Ed25519")
        try:
            skew = abs(self.clock() - int(stamp))
        except ValueError:
            return self.reject(401, "bad_timestamp", "X-Signature-Timestamp is not a number")
        if skew > self.max_skew:
            return self.reject(401, "stale_timestamp", "X-Signature-Timestamp is too old")
        return None

    def _validation(self, d: Any, signed: bool) -> web.Response:
        if not isinstance(d, dict):
            return self.reject(400, "bad_fields", "d must be an object")
        plain_token = d.get("plain_token")
        event_ts = d.get("event_ts")
        if isinstance(event_ts, int) and not isinstance(event_ts, bool):
            event_ts = str(event_ts)
        if not isinstance(plain_token, str) or not isinstance(event_ts, str):
            return self.reject(400, "bad_fields", "plain_token and event_ts are required")
        if not signed and not (
            _PLAIN_TOKEN.fullmatch(plain_token) and _EVENT_TS.fullmatch(event_ts)
        ):
            return self.reject(400, "bad_fields", "unexpected plain_token or event_ts")
        log.info("qq: answering callback URL validation")
        answer = {
            "plain_token": plain_token,
            "signature": sign_validation(self._key, event_ts, plain_token),
        }
        return web.json_response(answer)

    def _message(self, data: dict[str, Any]) -> web.Response:
        inbound = self._inbound(data)
        if inbound is None:
            return self.reject(400, "bad_fields", "id / author openid / group_openid missing")
        keys = [f"m:{inbound.event_id}"]
        envelope = data.get("id")
        if isinstance(envelope, str) and envelope:
            keys.append(f"e:{envelope}")
        if self._remember(keys):
            self.rt.metrics.dedup_hits.labels(self.name).inc()
            log.info("qq: duplicate push of %s acknowledged", inbound.event_id)
            return _ack()
        self._spawn(self._work(inbound))
        return _ack()

    @staticmethod
    def _inbound(data: dict[str, Any]) -> Inbound | None:
        d = data.get("d")
        if not isinstance(d, dict):
            return None
        msg_id = d.get("id")
        author = d.get("author")
        if not isinstance(msg_id, str) or not msg_id or not isinstance(author, dict):
            return None
        is_group = data.get("t") == "GROUP_AT_MESSAGE_CREATE"
        user = author.get("member_openid" if is_group else "user_openid")
        chat = d.get("group_openid") if is_group else user
        if not isinstance(user, str) or not user or not isinstance(chat, str) or not chat:
            return None
        text = message_text(d.get("content"))
        kind = "text"
        extra: dict[str, Any] = {}
        if not text:
            kind = media_kind(d.get("attachments")) or "text"
            if kind == "image":  # the picture's address, kept as 附图 by the requests service
                extra["url"] = attachment_url(d.get("attachments"))
        return Inbound(
            platform="qq",
            user_id=user,
            chat_id=chat,
            text=text,
            display_name="",
            is_group=is_group,
            mentioned_bot=is_group,
            kind=kind,
            event_id=msg_id,
            timestamp=parse_timestamp(d.get("timestamp")),
            raw=data,
            extra=extra,
        )

    def _remember(self, keys: list[str]) -> bool:
        """True when one of the keys was seen recently; records them all."""
        now = time.monotonic()
        while self._seen:
            _, at = next(iter(self._seen.items()))
            if now - at < SEEN_SECONDS and len(self._seen) <= SEEN_MAX:
                break
            self._seen.popitem(last=False)
        seen = any(k in self._seen for k in keys)
        for k in keys:
            self._seen[k] = now
            self._seen.move_to_end(k)
        return seen

    # -- background work ---------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, inb: Inbound) -> None:
        try:
            replies = await self.rt.dispatcher.handle(inb)
            await self._send_replies(inb, replies)
        except Exception:
            log.exception("qq: handling %s failed", inb.event_id)
            self.rt.metrics.sends.labels(self.name, "error").inc()

    async def _send_replies(self, inb: Inbound, replies: list[Reply]) -> None:
        texts = passive_texts(replies)
        if not texts:
            return
        sender = self.rt.senders.get("qq")
        if not isinstance(sender, QQSender):
            log.warning("qq: %d reply(ies) to %s dropped: no sender", len(texts), inb.event_id)
            self.rt.metrics.sends.labels(self.name, "no_sender").inc(len(texts))
            return
        target = Target.group("qq", inb.chat_id) if inb.is_group else Target.user("qq", inb.user_id)
        for seq, text in enumerate(texts, start=1):
            if not await self._reply(sender, target, text, inb.event_id, seq):
                log.warning(
                    "qq: %d of %d reply(ies) to %s not sent",
                    len(texts) - seq + 1,
                    len(texts),
                    inb.event_id,
                )
                return

    async def _reply(
        self, sender: QQSender, target: Target, text: str, msg_id: str, seq: int
    ) -> bool:
        """One passive reply, recorded as a Delivery row; True when it was sent."""
        assert self.rt.outbound is not None  # a served channel: the runtime is started
        row = await self.rt.outbound.deliver(
            target,
            text,
            lambda: sender.reply(target, text, msg_id, seq),
            purpose="reply",
            dedup_key=f"qq:{msg_id}:{seq}",
        )
        return row.status == "sent"

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the replies still being worked on; False if some are left at timeout."""
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return True
        _, not_done = await asyncio.wait(pending, timeout=timeout)
        return not not_done

    async def shutdown(self) -> None:
        """Wait (bounded by server.shutdown_timeout) for replies still on their way."""
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return
        timeout = self.rt.config.server.shutdown_timeout
        log.info("qq: waiting up to %.1fs for %d reply task(s)", timeout, len(pending))
        _, not_done = await asyncio.wait(pending, timeout=timeout)
        if not_done:
            log.warning("qq: %d reply task(s) dropped at shutdown", len(not_done))
            for t in not_done:
                t.cancel()
            await asyncio.wait(not_done, timeout=1.0)


def passive_texts(replies: list[Reply], limit: int = MAX_REPLIES_PER_MESSAGE) -> list[str]:
    """One message per reply, at most ``limit``; the last one carries the overflow."""
    texts = [r.text for r in replies if r.text.strip()]
    if len(texts) > limit:
        texts = [*texts[: limit - 1], "\n\n".join(texts[limit - 1 :])]
    return texts


def _ack() -> web.Response:
    return web.json_response(_ACK)
