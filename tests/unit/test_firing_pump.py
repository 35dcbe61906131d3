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
    pending = list(range(1, 101))
    outbound = FakeOutbound(slow=True)
    seen: list[int] = []
    holder: dict[str, FiringPump] = {}

    class Deliveries:
        sent: list[int] = []

        @staticmethod
        async def take_pending(firing_id, after_id, limit):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0)
            return Deliveries._take(limit)

        @staticmethod
        def _take(limit: int) -> list[tuple[int, str, str]]:
            taken = rows(*pending[:limit])
            del pending[:limit]
            p = holder["pump"]
            seen.append(p.unwritten - limit + len(taken))  # the reservation, as claimed
            return taken

        @staticmethod
        async def mark_sent_and_take(ids, now, firing_id, after_id, limit):  # type: ignore[no-untyped-def]
            Deliveries.sent += ids
            await asyncio.sleep(0)
            return Deliveries._take(limit)

        @staticmethod
        async def mark_sent(ids, now):  # type: ignore[no-untyped-def]
            Deliveries.sent += ids

        @staticmethod
        async def mark_finished(rows, now):  # type: ignore[no-untyped-def]
            assert not list(rows)

    monkeypatch.setattr(pump_module, "Delivery", Deliveries)
    p = holder["pump"] = FiringPump(
        outbound,  # type: ignore[arg-type]
        1,
        8,
        lambda: True,
        lambda: datetime.now(UTC),
    )
    await asyncio.wait_for(p.run(), 5)
    assert sorted(Deliveries.sent) == list(range(1, 101))
    assert len(outbound.posted) == 100 == len(set(outbound.posted))
    assert seen and max(seen) <= 8
