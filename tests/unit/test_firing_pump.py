"""The firing pump's workers and claims, with the Delivery statements faked (no database):
every claimed row is posted once, also when the last rows come from the writer's claim
after the pump's own claim found none; never more than `concurrency` rows unwritten."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

import bot.firing_pump as pump_module
from bot.firing_pump import FiringPump
from bot.outbound import Outbound
from bot.senders.base import SendResult
from bot.targets import Target


class FakeOutbound:
    metrics = None
    status_of = staticmethod(Outbound.status_of)

    def __init__(self, slow: bool = False) -> None:
        self.posted: list[str] = []
        self.slow = slow

    def transmitter(self, text: str):  # type: ignore[no-untyped-def]
        async def transmit(t: Target) -> SendResult:
            # Slow: a third of the posts answer at once, the others 1 or 2 ms later.
            await asyncio.sleep(0.001 * (int(t.id) % 3) if self.slow else 0)
            self.posted.append(str(t))
            return SendResult(True)

        return transmit


def rows(*ids: int) -> list[tuple[int, str, str]]:
    return [(i, f"onebot-group:{i}", "通知") for i in ids]


class PendingRows:
    """The Delivery statements over pending row ids in memory; `on_take(limit, taken)`
    sees each claim."""

    def __init__(self, ids, on_take=None) -> None:  # type: ignore[no-untyped-def]
        self.pending = list(ids)
        self.sent: list[int] = []
        self.on_take = on_take or (lambda limit, taken: None)

    async def take_pending(self, firing_id, after_id, limit):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return self._take(limit)

    def _take(self, limit: int) -> list[tuple[int, str, str]]:
        taken = rows(*self.pending[:limit])
        del self.pending[:limit]
        self.on_take(limit, taken)
        return taken

    async def mark_sent_and_take(self, ids, now, firing_id, after_id, limit):  # type: ignore[no-untyped-def]
        self.sent += ids
        await asyncio.sleep(0)
        return self._take(limit)

    async def mark_sent(self, ids, now):  # type: ignore[no-untyped-def]
        self.sent += ids

    async def mark_finished(self, rows, now):  # type: ignore[no-untyped-def]
        assert not list(rows)


class RacingDeliveries:
    """The pump claims 1-2; its next claim finds nothing because the writer's claim,
    still on its way, took 3-4 (it answers 50 ms later)."""

    def __init__(self) -> None:
        self.takes = 0
        self.writer_claiming = asyncio.Event()
        self.release = asyncio.Event()
        self.sent: list[int] = []
        self.most_unwritten = 0

    async def take_pending(self, firing_id: int, after_id: int, limit: int):  # type: ignore[no-untyped-def]
        self.takes += 1
        if self.takes == 1:
            return rows(1, 2)
        await self.writer_claiming.wait()
        asyncio.get_running_loop().call_later(0.05, self.release.set)
        return []

    async def mark_sent_and_take(self, ids, now, firing_id, after_id, limit):  # type: ignore[no-untyped-def]
        self.sent += ids
        self.writer_claiming.set()
        await self.release.wait()
        return rows(3, 4)[:limit]

    async def mark_sent(self, ids, now):  # type: ignore[no-untyped-def]
        self.sent += ids

    async def mark_finished(self, rows, now):  # type: ignore[no-untyped-def]
        assert not list(rows)


@pytest.fixture
def deliveries(monkeypatch):
    fake = RacingDeliveries()
    monkeypatch.setattr(pump_module, "Delivery", fake)
    return fake


async def test_rows_from_the_writers_last_claim_are_posted(deliveries):
    outbound = FakeOutbound()
    p = FiringPump(outbound, 1, 4, lambda: True, lambda: datetime.now(UTC))  # type: ignore[arg-type]
    await asyncio.wait_for(p.run(), 5)
    assert sorted(outbound.posted) == [f"onebot-group:{i}" for i in (1, 2, 3, 4)]
    assert sorted(deliveries.sent) == [1, 2, 3, 4]  # every answer written
    assert p.unwritten == 0 and not p.ready and p.posting == 0


async def test_never_more_than_concurrency_unwritten(monkeypatch):
    """100 pending rows, concurrency 8: claims and answers interleave; at every claim the
    rows claimed and not yet written stay within 8."""
    outbound = FakeOutbound(slow=True)
    seen: list[int] = []
    holder: dict[str, FiringPump] = {}

    def reservation(limit: int, taken: list[tuple[int, str, str]]) -> None:
        seen.append(holder["pump"].unwritten - limit + len(taken))  # as claimed

    deliveries = PendingRows(range(1, 101), reservation)
    monkeypatch.setattr(pump_module, "Delivery", deliveries)
    p = holder["pump"] = FiringPump(
        outbound,  # type: ignore[arg-type]
        1,
        8,
        lambda: True,
        lambda: datetime.now(UTC),
    )
    await asyncio.wait_for(p.run(), 5)
    assert sorted(deliveries.sent) == list(range(1, 101))
    assert len(outbound.posted) == 100 == len(set(outbound.posted))
    assert seen and max(seen) <= 8


class LastRowSlow(FakeOutbound):
    """Every post answers at once but row 10's, 50 ms later."""

    def transmitter(self, text: str):  # type: ignore[no-untyped-def]
        async def transmit(t: Target) -> SendResult:
            await asyncio.sleep(0.05 if t.id == "10" else 0)
            self.posted.append(str(t))
            return SendResult(True)

        return transmit


async def test_the_last_answers_are_written_without_waiting_for_a_full_round(monkeypatch):
    """10 rows, concurrency 8 (rounds of 4): rows 9 and 10 are the last, and fewer than a
    round; once none is on the wire their answers are written, not after WAIT (an hour
    here)."""
    deliveries = PendingRows(range(1, 11))
    monkeypatch.setattr(pump_module, "Delivery", deliveries)
    monkeypatch.setattr(pump_module, "WAIT", 3600)
    outbound = LastRowSlow()
    p = FiringPump(outbound, 1, 8, lambda: True, lambda: datetime.now(UTC))  # type: ignore[arg-type]
    await asyncio.wait_for(p.run(), 5)
    assert sorted(deliveries.sent) == list(range(1, 11))
    assert len(outbound.posted) == 10 == len(set(outbound.posted))
