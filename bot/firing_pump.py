"""一次广播的发送泵：待发的 Delivery 行成批认领、发出、成批写回结果。

`Outbound.send_firing` (bot/outbound.py) runs one `FiringPump` per firing:

* `concurrency` long-lived workers take claimed rows from a queue and post them
  (`Outbound.transmitter`: one per text, so each sender encodes the text once);
* rows are claimed (pending → sending, `Delivery.take_pending`) only when there is
  room: claimed rows not yet written back never number more than `concurrency`, so a
  row in ``sending`` is queued for a free worker, on the wire, or answered and about
  to be written; that is all a crash can leave uncertain;
* the answers are written in group commits, and the room they free is claimed in the
  same statement (`Delivery.mark_sent_and_take`): one UPDATE per round, not per row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.senders.base import SendResult
from bot.targets import BadTarget, Target
from models.deliveries import Delivery, Row

if TYPE_CHECKING:
    from bot.outbound import Outbound

log = logging.getLogger("lianxin.outbound")

# A claim waits at most this long for more room, answers for others to share their UPDATE.
WAIT = 0.02
# Texts whose prepared transmit is kept during one firing (a text per organisation).
KEPT_TEXTS = 256

# (row id, target, platform for the metrics, the platform's answer)
Answer = tuple[int, str, str, SendResult]


class FiringPump:
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
        self.cursor = 0  # rows up to it are taken: a claim never rescans them
        self.unwritten = 0  # claimed (or being claimed) and not yet written back
        self.posting = 0  # rows a worker holds (on the wire)
        self.claims = 0  # the writer's claims on their way (their rows still to queue)
        self.ready: deque[Row] = deque()  # claimed, waiting for a worker
        self.idle: list[asyncio.Future[None]] = []  # workers waiting for a row
        self.closing = False  # no more claims: workers leave once `ready` is empty
        self.room = asyncio.Event()
        self.enough = asyncio.Event()
        self.answered: list[Answer] = []
        self.writer: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None
        self.transmits: dict[str, Callable[[Target], Awaitable[SendResult]]] = {}

    async def run(self) -> None:
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        waited = False
        try:
            while self.failure is None and self.keep_going():
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
            self.closing = True  # the writer claims no more either
            self._wake(len(self.idle))
            await asyncio.gather(*workers, return_exceptions=True)
            while self.writer is not None and not self.writer.done():
                await self.writer
        if self.failure is not None:
            raise self.failure

    def _start(self, rows: list[Row]) -> None:
        """Queue the rows just claimed (now in `sending`) for the workers."""
        if not rows:
            return
        self.cursor = max(self.cursor, rows[-1][0])
        self.unwritten += len(rows)
        self.ready.extend(rows)
        self._wake(len(rows))

    def _wake(self, n: int) -> None:
        while n > 0 and self.idle:
            waiter = self.idle.pop()
            if not waiter.done():
                waiter.set_result(None)
                n -= 1

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.ready:
                if self.closing and not self.claims:
                    return
                waiter = loop.create_future()
                self.idle.append(waiter)
                await waiter
                continue
            row_id, target, text = self.ready.popleft()
            self.posting += 1
            platform, result = await self._post(target, text)
            self.posting -= 1
            self.answered.append((row_id, target, platform, result))
            # Enough for a round, or the last answer in hand: nothing else to wait for.
            if len(self.answered) >= self.min_take or not (self.posting or self.ready):
                self.enough.set()
            if self.writer is None or self.writer.done():
                self.writer = asyncio.create_task(self._write())

    async def _post(self, target: str, text: str) -> tuple[str, SendResult]:
        try:
            t = Target.parse(target)
        except BadTarget as exc:
            return "-", SendResult(False, None, str(exc), permanent=True)
        transmit = self.transmits.get(text)
        if transmit is None:
            if len(self.transmits) >= KEPT_TEXTS:
                self.transmits.clear()
            transmit = self.transmits[text] = self.outbound.transmitter(text)
        try:
            return t.platform, await transmit(t)
        except Exception as exc:  # one bad target must not stop the others
            log.exception("send to %s raised", target)
            return t.platform, SendResult(False, None, f"{type(exc).__name__}: {exc}")

    async def _write(self) -> None:
        """Write the answers that came in, in rounds, until none waits (group commit): a
        round waits for `min_take` answers or WAIT seconds, whichever comes first."""
        while self.answered:
            if len(self.answered) < self.min_take and (self.posting or self.ready):
                self.enough.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.enough.wait(), WAIT)
            batch, self.answered = self.answered, []
            # The room this write makes is claimed in the same statement (one commit: the
            # rows in `sending` never number more than `concurrency`).
            self.unwritten -= len(batch)
            take = 0
            if self.failure is None and not self.closing and self.keep_going():
                take = max(0, self.concurrency - self.unwritten)
            self.unwritten += take  # reserved while the statement is on its way
            self.claims += 1
            try:
                rows = await self._write_batch(batch, take)
            except Exception as exc:  # the database: stop claiming; run() raises it
                self.unwritten += len(batch) - take
                self.failure = self.failure or exc
                rows = []
            else:
                self.unwritten -= take
            finally:
                self.claims -= 1
            self._start(rows)
            if self.closing:  # workers waiting only for this claim may leave now
                self._wake(len(self.idle))
            self.room.set()
            if self.failure is not None:
                return

    async def _write_batch(self, batch: list[Answer], take: int) -> list[Row]:
        """Write the answers; with `take`, also claim up to that many rows (returned)."""
        now = self.now()
        outcomes: Counter[tuple[str, str]] = Counter()
        sent, failed = [], []
        status_of = self.outbound.status_of
        for row_id, target, platform, res in batch:
            if res.ok:
                sent.append(row_id)
                outcomes[platform, "sent"] += 1
                continue
            status = status_of(res, res.attempts)
            outcomes[platform, status] += 1
            failed.append((row_id, status, res.code, res.reason or "", res.attempts))
            log.warning("broadcast delivery %s to %s %s: %s", row_id, target, status, res.reason)
        # The failed first: the claim below then never holds more than `concurrency`
        # rows in sending beside them (what a crash between the two leaves uncertain).
        await Delivery.mark_finished(failed, now)
        if take:
            rows = await Delivery.mark_sent_and_take(sent, now, self.firing_id, self.cursor, take)
        else:
            rows = []
            await Delivery.mark_sent(sent, now)
        if self.outbound.metrics is not None:
            for (platform, status), n in outcomes.items():
                self.outbound.metrics.sends.labels(platform, status).inc(n)
        return rows
