"""Dedup keys written on the event loop's thread (SQLite): same answers, tortoise's way
whenever the file is locked, and the WAL still checkpointed (bot/dedup_sqlite.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot import dedup_sqlite
from bot.db import sqlite_path
from bot.dedup import DedupGate
from models.events import InboundEvent


async def test_batches_first_and_again(db):
    gate = DedupGate()
    keys = [f"k{i}" for i in range(30)]
    first = await asyncio.gather(*[gate.claim_batched("wechat", k) for k in [*keys, "k0"]])
    assert first == [True] * 30 + [False]  # the same key twice in one batch: first wins
    again = await asyncio.gather(*[gate.claim_batched("wechat", k) for k in ["k1", "new"]])
    assert again == [False, True]
    assert await InboundEvent.filter(platform="wechat").count() == 31
    # On SQLite the batches went the fast way; PostgreSQL has no such path.
    assert (gate._fast.written > 0) == (sqlite_path(db) is not None)
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
    assert await gate.claim_batched("wechat", "during") is True
    ticker.cancel()
    other.close()
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
        monkeypatch.setattr(dedup_sqlite, "CHECKPOINT_EVERY", checkpoint_every)
        gate = DedupGate()
        for b in range(60):
            keys = [f"{prefix}-{b}-{i}" for i in range(40)]
            assert all(await asyncio.gather(*[gate.claim_batched("wechat", k) for k in keys]))
            if gate._checkpoint is not None:
                await gate._checkpoint  # in production it runs beside the next batches
        await gate.close()
        return wal.stat().st_size

    # A checkpoint lets the next write start the WAL over, so it stops growing (the file
    # is reused, not shrunk: the run without checkpoints goes second).
    kept = await wal_after_batches(5, "some")
    grown = await wal_after_batches(10_000, "none")
    assert kept < grown / 3, (kept, grown)
