"""Old dedup keys are pruned (bot/housekeeping.py, InboundEvent.prune): in bounded chunks,
by the scheduler's leader only, and never a key a platform could still retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bot.app import RUNTIME, create_app
from bot.clock import ManualClock
from bot.housekeeping import prune_inbound_events
from models.broadcasts import Broadcast
from models.events import InboundEvent
from tests.conftest import Console, make_config

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=30)
CUTOFF = NOW - timedelta(days=14)
JOB = "housekeeping.prune_inbound_events"


async def keys(prefix: str, n: int, at: datetime) -> None:
    """`n` keys written at `at`, in id order after every key written so far."""
    for i in range(n):
        await InboundEvent.create(platform="wechat", event_key=f"{prefix}{i}")
    await InboundEvent.filter(event_key__startswith=prefix).update(created_at=at)


async def left(prefix: str) -> int:
    return await InboundEvent.filter(event_key__startswith=prefix).count()


async def test_old_keys_go_recent_ones_stay(db):
    # The health probe's row comes first by id and is rewritten in place: recent.
    await keys("probe", 1, NOW)
    await keys("old", 9, OLD)
    await keys("edge", 1, CUTOFF)  # exactly keep_days old: kept
    await keys("stray", 1, NOW - timedelta(days=1))  # a recent key among old ids
    await keys("older", 6, OLD + timedelta(days=1))
    await keys("new", 5, NOW - timedelta(minutes=1))
    assert await InboundEvent.prune(CUTOFF, chunk=4, chunks=100) == 15
    assert (await left("old"), await left("older")) == (0, 0)
    assert [await left(p) for p in ("probe", "edge", "stray", "new")] == [1, 1, 1, 5]
    assert await InboundEvent.prune(CUTOFF, chunk=4, chunks=100) == 0  # nothing old: nothing


async def test_a_tick_deletes_at_most_its_bound(db):
    await keys("old", 30, OLD)
    await keys("new", 3, NOW)
    # 5 statements of 4 ids: 20 of the 30 old keys, the oldest first
    assert await InboundEvent.prune(CUTOFF, chunk=4, chunks=5) == 20
    assert await left("old") == 10
    assert await InboundEvent.filter(event_key="old29").exists()
    assert not await InboundEvent.filter(event_key="old19").exists()
    assert await InboundEvent.prune(CUTOFF, chunk=4, chunks=5) == 10  # the rest, next tick
    assert (await left("old"), await left("new")) == (0, 3)


async def test_keep_days_zero_keeps_every_key(db):
    await keys("old", 3, OLD - timedelta(days=3650))
    runtime = SimpleNamespace(config=make_config(db, dedup={"keep_days": 0}))
    assert await prune_inbound_events(runtime, NOW) == []
    assert await left("old") == 3
    runtime = SimpleNamespace(config=make_config(db, dedup={"keep_days": 14}))
    assert await prune_inbound_events(runtime, NOW) == []
    assert await left("old") == 0


async def test_the_leader_prunes_and_a_recent_retry_is_still_answered(aiohttp_client, db_url):
    config = make_config(db_url)
    first = Console(await aiohttp_client(create_app(config)))
    asked = await first.say("/改称呼", user="u1", event_id="evt-new")
    assert "怎么称呼您" in asked[0]
    await first.say("/改称呼", user="u2", event_id="evt-old")
    runtime = first.client.app[RUNTIME]
    # 10:00 today in [bot] timezone (outside quiet hours); the old key is 20 days older.
    local = datetime.now(ZoneInfo(config.bot.timezone))
    now = local.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(UTC)
    runtime.clock = ManualClock(now)
    await InboundEvent.filter(event_key="evt-old").update(created_at=now - timedelta(days=20))
    await Broadcast.filter(job=JOB).update(next_fire_at=now)  # the job's row, due

    broadcaster = runtime.broadcaster
    await broadcaster.tick()  # not the leader (no campaign yet): nothing runs
    assert await InboundEvent.filter(event_key="evt-old").exists()
    assert await broadcaster.elect()
    await broadcaster.tick()
    assert not await InboundEvent.filter(event_key="evt-old").exists()
    assert await InboundEvent.filter(event_key="evt-new").exists()
    row = await Broadcast.get(job=JOB)
    assert row.next_fire_at == now + timedelta(minutes=10)
    await first.client.close()

    # A new process (nothing in memory): the platform's retry of the recent event gets its
    # stored reply, and does not start the dialog again.
    second = Console(await aiohttp_client(create_app(config)))
    assert await second.say("/改称呼", user="u1", event_id="evt-new") == asked
    await second.client.close()


async def test_nothing_old_is_read_without_waiting_for_the_write_lock(db):
    """A tick with nothing to delete only reads: while another process holds SQLite's
    write lock it answers 0 at once, instead of waiting out the busy timeout (5 s) for a
    DELETE that finds nothing (which also held a shutdown that long)."""
    import asyncio
    import sqlite3

    from bot.db import sqlite_path

    path = sqlite_path(db)
    if path is None:
        import pytest

        pytest.skip("SQLite's write lock; PostgreSQL deletes rows, not the file")
    await keys("recent", 5, NOW - timedelta(days=1))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert await asyncio.wait_for(InboundEvent.prune(CUTOFF, chunk=2), 2.0) == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await left("recent") == 5
