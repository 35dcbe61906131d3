"""出站投递：给任何平台上的一个人或一个群发消息，按群限速，每个结果记一行 Delivery。

The one way the bot says something unasked (late replies, broadcasts,
reminders, `lianxin send`). Senders handle tokens, platform limits and
retries; this layer adds what is the same for all of them:

* a target a platform cannot reach is refused up front, with the reason;
* a default pace of one message per second per group, because bursts get bot
  accounts banned;
* a `Delivery` row for every outcome (pending → sent / failed / refused);
* with a `dedup_key`, a delivery that was already sent is never sent again.

A broadcast's rows are written beforehand (bot/broadcaster/) and sent by
`send_firing` (bot/firing_pump.py): `concurrency` workers posting, a row claimed
(pending → sending) only when there is room, the answers written in group commits
(one UPDATE for every row sent since the previous write, which also claims the next).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from bot.firing_pump import FiringPump
from bot.inbound import Reply
from bot.metrics import Metrics
from bot.senders.base import Sender, SendResult
from bot.targets import BadTarget, Target
from models.deliveries import Delivery

log = logging.getLogger("lianxin.outbound")


@dataclass(frozen=True)
class Push:
    """One message a scheduled job wants sent. `key` is unique per delivery: a push
    whose key was already delivered is never sent again (across restarts too)."""

    target: str
    text: str
    key: str
    purpose: str = ""


class Outbound:
    def __init__(
        self,
        senders: dict[str, Sender],
        metrics: Metrics | None = None,
        group_pace_seconds: float = 1.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.senders = senders
        # The runtime's clock: a row's created_at and finished_at are domain time, as
        # the broadcaster's rows are (a drill under LIANXIN_NOW stamps its own date).
        self.now = now or (lambda: datetime.now(UTC))
        self.metrics = metrics
        self.group_pace_seconds = group_pace_seconds
        # group → when its next post may start (time.monotonic), least recent first
        self._paces: dict[str, float] = {}

    def refusal(self, target: str | Target) -> str | None:
        """Why `target` cannot be reached from here, or None. Call it when scheduling."""
        try:
            t = target if isinstance(target, Target) else Target.parse(target)
        except BadTarget as exc:
            return str(exc)
        sender = self.senders.get(t.platform)
        if sender is None:
            return f"{t.platform}: not configured (no sender for this platform)"
        return sender.refusal(t)

    async def send(
        self, target: str | Target, text: str, *, purpose: str = "", dedup_key: str | None = None
    ) -> Delivery:
        """Push one text and return its Delivery row (never raises for platform trouble)."""
        try:
            t = target if isinstance(target, Target) else Target.parse(target)
        except BadTarget as exc:
            return await self._record(str(target), None, text, None, purpose, dedup_key, str(exc))
        why = self.refusal(t)

        async def call() -> SendResult:
            return await self.senders[t.platform].send(t, Reply(text))

        return await self._record(str(t), t, text, call, purpose, dedup_key, why)

    async def transmit(self, t: Target, text: str) -> SendResult:
        """Hand one text to its platform (refusal and group pacing as in `send`), with no
        Delivery row: for callers that keep their own rows (bot/broadcaster.py)."""
        return await self.transmitter(text)(t)

    def transmitter(self, text: str) -> Callable[[Target], Awaitable[SendResult]]:
        """`transmit` of one text to many targets (a broadcast's rows): each platform's
        sender prepares the text once (`Sender.poster`)."""
        reply = Reply(text)
        posters: dict[str, Callable[[Target], Awaitable[SendResult]]] = {}

        async def transmit(t: Target) -> SendResult:
            why = self.refusal(t)
            if why is not None:
                return SendResult(False, None, why, permanent=True)
            post = posters.get(t.platform)
            if post is None:
                post = posters[t.platform] = self.senders[t.platform].poster(reply)
            if t.is_group and self.group_pace_seconds > 0:
                await self._turn(t)
            return await post(t)

        return transmit

    async def _paced(self, t: Target, call: Callable[[], Awaitable[SendResult]]) -> SendResult:
        if t.is_group and self.group_pace_seconds > 0:
            await self._turn(t)
        return await call()

    async def _turn(self, t: Target) -> None:
        """Wait for this group's turn (see `_pace`)."""
        wait = self._pace(str(t))
        if wait > 0:
            await asyncio.sleep(wait)

    @staticmethod
    def status_of(result: SendResult, attempts: int) -> str:
        """sent; refused (never reached the platform: we said no); else failed."""
        if result.ok:
            return "sent"
        if result.permanent and result.code is None and attempts == 0:
            return "refused"
        return "failed"

    async def send_pushes(self, pushes: Iterable[Push]) -> list[Delivery]:
        """Send each push once by its key (the rows already sent are left alone)."""
        return [
            await self.send(p.target, p.text, purpose=p.purpose, dedup_key=p.key[:191])
            for p in pushes
        ]

    async def deliver(
        self,
        target: str | Target,
        text: str,
        send: Callable[[], Awaitable[SendResult]],
        *,
        purpose: str = "",
        dedup_key: str | None = None,
    ) -> Delivery:
        """Record a send the caller makes itself (a QQ passive reply with msg_id/msg_seq).

        A reply is not a push, so there is no capability check; the row, pacing,
        metrics and dedup_key rule are the same as `send`.
        """
        t = target if isinstance(target, Target) else Target.parse(target)
        return await self._record(str(t), t, text, send, purpose, dedup_key, None)

    async def _record(
        self,
        target: str,
        t: Target | None,
        text: str,
        call: Callable[[], Awaitable[SendResult]] | None,
        purpose: str,
        dedup_key: str | None,
        refusal: str | None,
    ) -> Delivery:
        if dedup_key is not None:
            done = await Delivery.filter(dedup_key=dedup_key).first()
            if done is not None and done.status in ("sent", "refused"):
                return done
        row = await self._open_row(target, t, text, purpose, dedup_key)
        if row.status != "pending":
            return row
        if refusal is not None or call is None or t is None:
            result = SendResult(False, None, refusal or "bad target", permanent=True)
            return await self._finish(row, result, 0)
        result = await self._paced(t, call)
        return await self._finish(row, result, result.attempts)

    async def _open_row(
        self, target: str, t: Target | None, text: str, purpose: str, dedup_key: str | None
    ) -> Delivery:
        platform = t.platform if t else ""
        try:
            return await Delivery.create(
                target=target[:191],
                platform=platform,
                purpose=purpose[:32],
                dedup_key=dedup_key,
                text=text,
                status="pending",
                created_at=self.now(),
            )
        except IntegrityError:
            # Same dedup_key written by a concurrent or earlier attempt: reuse that row.
            row = await Delivery.get(dedup_key=dedup_key)
            return row

    async def _finish(self, row: Delivery, result: SendResult, attempts: int) -> Delivery:
        row.status = self.status_of(result, attempts)
        row.error_code = result.code
        row.reason = (result.reason or "")[:255]
        row.attempts = attempts
        row.finished_at = self.now()
        await row.save(update_fields=["status", "error_code", "reason", "attempts", "finished_at"])
        if self.metrics is not None:
            self.metrics.sends.labels(row.platform or "-", row.status).inc()
        if row.status != "sent":
            log.warning(
                "delivery %s to %s %s: %s %s",
                row.id,
                row.target,
                row.status,
                row.error_code,
                row.reason,
            )
        return row

    def _pace(self, key: str) -> float:
        """Seconds to wait before posting into this group: one post per pace per group,
        in the order they asked (a reservation, not a limiter object per group)."""
        now = time.monotonic()
        start = max(now, self._paces.pop(key, 0.0))
        self._paces[key] = start + self.group_pace_seconds  # now the most recent
        while len(self._paces) > 10_000:
            oldest, free_at = next(iter(self._paces.items()))
            if free_at > now:
                break  # still pacing: kept
            del self._paces[oldest]
        return start - now

    # -- a broadcast's rows ------------------------------------------------------------
    async def send_firing(
        self,
        firing_id: int,
        concurrency: int,
        keep_going: Callable[[], bool],
        now: Callable[[], datetime],
    ) -> None:
        """Send the firing's pending Delivery rows (see the module's doc); returns when
        none is left or `keep_going()` says stop, with every answer written."""
        await FiringPump(self, firing_id, max(1, concurrency), keep_going, now).run()
