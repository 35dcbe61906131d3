"""While SQLite is down because another process holds its write lock, the health probe
answers at once and leaves tortoise's one connection free (bot/dbhealth.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from bot.db import sqlite_path
from bot.dbhealth import DbHealth
from models.events import InboundEvent


async def test_a_probe_while_locked_elsewhere_answers_at_once_and_waits_for_nothing(db):
    path = sqlite_path(db)
    if path is None:
        pytest.skip("SQLite's write lock")
    health = DbHealth(db)
    health.remember_file()
    assert await health.probe() is True
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        health.mark_down("OperationalError: database is locked")  # as a write found it
        for _ in range(3):  # the journal probes every 0.25 s
            started = time.monotonic()
            assert await health.probe() is False
            assert time.monotonic() - started < 1.0
        assert (health.down, health.reason) == (True, "OperationalError: database is locked")
        # Tortoise's connection is not stuck in a probe's busy wait: a read goes through.
        assert await asyncio.wait_for(InboundEvent.all().count(), 1.0) >= 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The lock is gone: the next probe writes and the database is up again.
    assert await health.probe() is True
    assert health.down is False
