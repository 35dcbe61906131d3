"""Statements written on the event loop's thread (SQLite: dedup keys, a firing's claims):
same answers, tortoise's way whenever the file is locked or a transaction is open, and
the WAL still checkpointed (bot/sqlite_direct.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot import sqlite_direct
from bot.db import sqlite_path
from bot.dedup import DedupGate
from bot.sqlite_direct import DIRECT
from models.events import InboundEvent


async def while_locked(path: Path, work):  # type: ignore[no-untyped-def]
    """`work`'s result while another process holds the write lock for 0.3 s, and how
    many times the loop ticked meanwhile (every 10 ms)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    try:
        return await work, ticks
    finally:
        ticker.cancel()
        other.close()


async def test_batches_first_and_again(db):
    gate = DedupGate()
    before = gate._fast.written
    keys = [f"k{i}" for i in range(30)]
    first = await asyncio.gather(*[gate.claim_batched("wechat", k) for k in [*keys, "k0"]])
    assert first == [True] * 30 + [False]  # the same key twice in one batch: first wins
    again = await asyncio.gather(*[gate.claim_batched("wechat", k) for k in ["k1", "new"]])
    assert again == [False, True]
    assert await InboundEvent.filter(platform="wechat").count() == 31
    # On SQLite the batches went the fast way; PostgreSQL has no such path.
    assert (gate._fast.written > before) == (sqlite_path(db) is not None)
    await gate.close()


def _sqlite_file(db: str) -> Path:
    path = sqlite_path(db)
    if path is None:
        pytest.skip("SQLite only: PostgreSQL writes through asyncpg")
    return path


async def test_a_locked_file_goes_through_tortoise_and_waits(db):
    path = _sqlite_file(db)
    gate = DedupGate()
    assert await gate.claim_batched("wechat", "before") is True
    written = gate._fast.written
    # Another process holds the write lock: the fast path must not wait for it (the
    # event loop would stall); tortoise waits its busy timeout in its thread instead.
    first, ticks = await while_locked(path, gate.claim_batched("wechat", "during"))
    assert first is True
    assert gate._fast.written == written  # not written here
    assert ticks >= 10  # the loop ran meanwhile
    # Unlocked: the next batch is the fast path's again, no back-off for "locked".
    assert await gate.claim_batched("wechat", "after") is True
    assert gate._fast.written == written + 1
    assert await gate.claim_batched("wechat", "during") is False
    await gate.close()


async def test_the_wal_is_checkpointed(db, monkeypatch):
    path = _sqlite_file(db)
    wal = Path(f"{path}-wal")

    async def wal_after_batches(checkpoint_every: int, prefix: str) -> int:
        monkeypatch.setattr(sqlite_direct, "CHECKPOINT_EVERY", checkpoint_every)
        gate = DedupGate()
        for b in range(60):
            keys = [f"{prefix}-{b}-{i}" for i in range(40)]
            assert all(await asyncio.gather(*[gate.claim_batched("wechat", k) for k in keys]))
            if gate._fast.checkpoint is not None:
                await gate._fast.checkpoint  # in production it runs beside the next batches
        await gate.close()
        return wal.stat().st_size

    # A checkpoint lets the next write start the WAL over, so it stops growing (the file
    # is reused, not shrunk: the run without checkpoints goes second).
    kept = await wal_after_batches(5, "some")
    grown = await wal_after_batches(10_000, "none")
    assert kept < grown / 3, (kept, grown)


async def test_a_firings_claims_go_the_direct_way_and_a_locked_file_waits(db):
    from models.deliveries import Delivery
    from tests.test_delivery_claims import NOW, rows_of

    path = _sqlite_file(db)
    ids = await rows_of(9, 6)
    written = DIRECT.written
    assert [r[0] for r in await Delivery.take_pending(9, 0, 2)] == ids[:2]
    taken = await Delivery.mark_sent_and_take(ids[:2], NOW, 9, ids[1], 2)
    assert [r[0] for r in taken] == ids[2:4]
    await Delivery.mark_finished([(ids[2], "failed", 500, "对方出错", 1)], NOW)
    assert DIRECT.written == written + 3
    # Another process holds the write lock: the claim waits in tortoise's thread, the
    # loop runs meanwhile, and the rows are claimed once the lock is free.
    claim = Delivery.mark_sent_and_take([ids[3]], NOW, 9, ids[3], 5)
    taken, ticks = await while_locked(path, claim)
    assert [r[0] for r in taken] == ids[4:] and ticks >= 10
    assert DIRECT.written == written + 3  # that one went through tortoise
    statuses = dict(await Delivery.filter(firing_id=9).values_list("id", "status"))
    assert [statuses[i] for i in ids] == ["sent", "sent", "failed", "sent", "sending", "sending"]


async def test_inside_a_transaction_the_statement_is_the_transactions(db):
    from tortoise.transactions import in_transaction

    from models.deliveries import Delivery
    from tests.test_delivery_claims import rows_of

    _sqlite_file(db)
    ids = await rows_of(10, 2)
    written = DIRECT.written
    with pytest.raises(RuntimeError):
        async with in_transaction():
            assert [r[0] for r in await Delivery.take_pending(10, 0, 2)] == ids
            raise RuntimeError("rolled back")
    assert DIRECT.written == written
    assert set(await Delivery.filter(firing_id=10).values_list("status", flat=True)) == {"pending"}


async def test_the_wal_goes_back_to_its_size_limit_after_a_busy_spell(db):
    from tortoise import connections

    path = _sqlite_file(db)
    wal = Path(f"{path}-wal")
    conn = connections.get("default")
    gate = DedupGate()
    # a busy spell: 200 batches of 40 keys with no checkpoint in between
    for b in range(200):
        keys = [f"busy-{b}-{i}-" + "x" * 120 for i in range(40)]
        assert all(await asyncio.gather(*[gate.claim_batched("wechat", k) for k in keys]))
    busy = wal.stat().st_size
    assert busy > 1_000_000
    # then it is quiet: a checkpoint, and the next write starts the WAL over, cut back
    await conn.execute_query_dict("PRAGMA wal_checkpoint(PASSIVE)")
    assert await gate.claim_batched("wechat", "after the spell") is True
    assert wal.stat().st_size <= sqlite_direct.JOURNAL_SIZE_LIMIT + 64 * 1024, busy
    await gate.close()
