"""出站投递：给任何平台上的一个人或一个群发消息，按群限速，每个结果记一行 Delivery。

The one way the bot says something unasked (late replies, broadcasts,
reminders, `lianxin send`). Senders handle tokens, platform limits and
retries; this layer adds what is the same for all of them:

* a target a platform cannot reach is refused up front, with the reason;
* a default pace of one message per second per group, because bursts get bot
  accounts banned;
* a `Delivery` row for every outcome (pending → sent / failed / refused);
* with a `dedup_key`, a delivery that was already sent is never sent again.

A broadcast's rows are written beforehand (bot/broadcaster.py) and sent by
`send_firing`: `concurrency` posts always in flight, a row claimed (pending →
sending) only when a post frees up, so a row in ``sending`` is on the wire or
answered and about to be written; the answers are written in group commits (one
UPDATE for every row sent since the previous write).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

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
    ) -> None:
        self.senders = senders
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
        why = self.refusal(t)
        if why is not None:
            return SendResult(False, None, why, permanent=True)
        return await self._paced(t, lambda: self.senders[t.platform].send(t, Reply(text)))

    async def _paced(self, t: Target, call: Callable[[], Awaitable[SendResult]]) -> SendResult:
        if t.is_group and self.group_pace_seconds > 0:
            wait = self._pace(str(t))
            if wait > 0:
                await asyncio.sleep(wait)
        return await call()

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
        row.finished_at = datetime.now(UTC)
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
        await _FiringPump(self, firing_id, max(1, concurrency), keep_going, now).run()

    async def _send_row(self, target: Target, text: str) -> SendResult:
        try:
            return await self.transmit(target, text)
        except Exception as exc:  # one bad target must not stop the others
            log.exception("send to %s raised", target)
            return SendResult(False, None, f"{type(exc).__name__}: {exc}")


# A claim waits at most this long for more room, answers for others to share their UPDATE.
WAIT = 0.02


class _FiringPump:
    def __init__(
        self,
        outbound: Outbound,
        firing_id: int,
        concurrency: int,
        keep_going: Callable[[], bool],
        now: Callable[[], datetime],
    ) -> None:
        self.outbound = outbound
        self.firing_id = firing_id
        self.concurrency = concurrency
        # A claim waits for this much room: fewer, larger statements, posts still flowing.
        self.min_take = max(1, concurrency // 2)
        self.keep_going = keep_going
        self.now = now
        self.in_flight: set[asyncio.Task[None]] = set()
        self.cursor = 0  # rows up to it are taken: a claim never rescans them
        self.unwritten = 0
        self.room = asyncio.Event()
        self.enough = asyncio.Event()
        self.answered: list[tuple[dict[str, Any], SendResult]] = []
        self.writer: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None

    async def run(self) -> None:
        waited = False
        try:
            while self.failure is None and self.keep_going():
                # Rows in `sending` not yet written back: on the wire or just answered.
                # At most `concurrency` of them, the most a crash can leave uncertain.
                room = self.concurrency - self.unwritten
                if room <= 0 or (room < self.min_take and not waited):
                    # Room for a larger claim soon, or take what there is (slow posts).
                    self.room.clear()
                    try:
                        await asyncio.wait_for(self.room.wait(), None if room <= 0 else WAIT)
                    except TimeoutError:
                        waited = True
                    continue
                waited = False
                self.unwritten += room  # reserved while the claim is on its way
                try:
                    rows = await Delivery.take_pending(self.firing_id, self.cursor, room)
                finally:
                    self.unwritten -= room
                if not rows:
                    break
                self._start(rows)
        finally:
            while self.in_flight:
                await asyncio.wait(list(self.in_flight))
            while self.writer is not None and not self.writer.done():
                await self.writer
        if self.failure is not None:
            raise self.failure

    def _start(self, rows: list[dict[str, Any]]) -> None:
        """Post the rows just claimed (now in `sending`)."""
        if rows:
            self.cursor = max(self.cursor, rows[-1]["id"])
        self.unwritten += len(rows)
        for row in rows:
            task = asyncio.create_task(self._post(row))
            self.in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)

    async def _post(self, row: dict[str, Any]) -> None:
        try:
            target = Target.parse(row["target"])
        except BadTarget as exc:
            row["platform"] = "-"
            result = SendResult(False, None, str(exc), permanent=True)
        else:
            row["platform"] = target.platform
            result = await self.outbound._send_row(target, row["text"])
        self.answered.append((row, result))
        if len(self.answered) >= self.min_take:
            self.enough.set()
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        """Write the answers that came in, in rounds, until none waits (group commit): a
        round waits for `min_take` answers or WAIT seconds, whichever comes first."""
        while self.answered:
            if len(self.answered) < self.min_take and self.in_flight:
                self.enough.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.enough.wait(), WAIT)
            batch, self.answered = self.answered, []
            # The room this write makes is claimed in the same statement (one commit: the
            # rows in `sending` never number more than `concurrency`).
            self.unwritten -= len(batch)
            take = 0
            if self.failure is None and self.keep_going():
                take = max(0, self.concurrency - self.unwritten)
            self.unwritten += take  # reserved while the statement is on its way
            try:
                rows = await self._write_batch(batch, take)
            except Exception as exc:  # the database: stop claiming; run() raises it
                self.unwritten += len(batch) - take
                self.failure = self.failure or exc
                self.room.set()
                return
            self.unwritten -= take
            self._start(rows)
            self.room.set()

    async def _write_batch(
        self, batch: list[tuple[dict[str, Any], SendResult]], take: int
    ) -> list[dict[str, Any]]:
        """Write the answers; with `take`, also claim up to that many rows (returned)."""
        now = self.now()
        outcomes: Counter[tuple[str, str]] = Counter()
        sent, failed = [], []
        for row, res in batch:
            status = self.outbound.status_of(res, res.attempts)
            outcomes[row["platform"], status] += 1
            if res.ok:
                sent.append(row["id"])
                continue
            failed.append((row["id"], status, res.code, res.reason or "", res.attempts))
            log.warning(
                "broadcast delivery %s to %s %s: %s", row["id"], row["target"], status, res.reason
            )
        if take:
            rows = await Delivery.mark_sent_and_take(sent, now, self.firing_id, self.cursor, take)
        else:
            rows = []
            await Delivery.mark_sent(sent, now)
        await Delivery.mark_finished(failed, now)
        if self.outbound.metrics is not None:
            for (platform, status), n in outcomes.items():
                self.outbound.metrics.sends.labels(platform, status).inc(n)
        return rows
