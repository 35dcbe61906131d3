"""Broadcasts with real `lianxin serve` processes: kill -9 in the middle of a fan-out,
several processes on PostgreSQL, leader failover. The platform is the fake OneBot
API on 127.0.0.1, running in this test's event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import pytest

from models.broadcasts import Broadcast, BroadcastFiring
from models.deliveries import Delivery
from models.people import GroupBinding, Organization
from tests.fakes.onebot_api import FakeOnebotAPI

GROUPS = 500
BATCH = 15  # fanout_concurrency: one lane of 15 on the wire


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, api_url: str, **extra: str) -> subprocess.Popen[bytes]:
    """`lianxin serve` on a free port (its URL in `proc.base`)."""
    port = _free_port()
    env = {
        **os.environ,
        "LIANXIN_DATABASE__URL": db_url,
        "LIANXIN_ONEBOT__ENABLED": "true",
        "LIANXIN_ONEBOT__SECRET": "s",
        "LIANXIN_ONEBOT__ACCESS_TOKEN": "t",
        "LIANXIN_ONEBOT__API_URL": api_url,
        "LIANXIN_BROADCASTS__TICK_SECONDS": "0.2",
        "LIANXIN_BROADCASTS__LEADER_POLL_SECONDS": "0.5",
        "LIANXIN_BROADCASTS__FANOUT_CONCURRENCY": str(BATCH),
        **{f"LIANXIN_{k.upper()}": v for k, v in extra.items()},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    proc.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return proc


async def health(proc: subprocess.Popen[bytes]) -> dict | None:
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{proc.base}/healthz") as r:  # type: ignore[attr-defined]
            return await r.json()
    except aiohttp.ClientError:
        return None


async def until(check, timeout: float = 60.0, what: str = "") -> None:
    """Poll `check()` (bounded) until true."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def seed_groups(n: int) -> Broadcast:
    org = await Organization.create_in_tree("BC01", "广播测试社区", "community")
    await GroupBinding.bulk_create(
        [GroupBinding(platform="onebot", chat_id=str(100000 + i), org=org) for i in range(n)]
    )
    # urgent: the test must not depend on the time of day (quiet hours)
    return await Broadcast.create(
        org=org, rule="once", audience="org_groups", audience_ref=str(org.id),
        content="今晚七点停水，请提前储水。", urgent=True, next_fire_at=datetime.now(UTC),
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stderr.read().decode() if proc.stderr else ""


async def test_kill_9_mid_fan_out_then_restart_delivers_each_once(db):
    fake = FakeOnebotAPI(access_token="t")
    await fake.start()
    try:
        b = await seed_groups(GROUPS)
        # The platform takes 270 messages but answers only 255: the process is
        # killed with 255 confirmed and a batch of 15 on the wire.
        fake.hold_after(17 * BATCH)
        first = start_server(db, fake.base_url)
        try:
            await until(lambda: _true(fake.held == BATCH), what="the lanes on the wire")
            assert len(fake.delivered) == 18 * BATCH
            await until(lambda: _sent(17 * BATCH), what="the answered ones recorded")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        fake.release()
        firing = await BroadcastFiring.get(broadcast_id=b.id)
        assert firing.status == "sending"  # the dead process never finished it
        second = start_server(db, fake.base_url)
        try:

            async def finished() -> bool:
                await firing.refresh_from_db()
                return firing.status == "done"

            await until(finished, what="the restarted leader to finish the fan-out")
        finally:
            err = stop(second)
        assert "Traceback" not in err, err
        counts = Counter(m["group_id"] for m in fake.delivered)
        assert len(counts) == GROUPS and set(counts.values()) == {1}  # all, exactly once
        assert (firing.targets, firing.sent, firing.uncertain) == (GROUPS, GROUPS - BATCH, BATCH)
        statuses = Counter(
            await Delivery.filter(firing_id=firing.id).values_list("status", flat=True)
        )
        assert statuses == {"sent": GROUPS - BATCH, "unknown": BATCH}
    finally:
        await fake.close()


async def _true(value: bool) -> bool:
    return value


async def _sent(n: int) -> bool:
    return await Delivery.filter(status="sent").count() == n


@pytest.fixture
async def pg_db(db):
    if not db.startswith("postgres"):
        pytest.skip("several processes need PostgreSQL (SQLite serves one process)")
    return db


async def test_two_processes_on_postgresql_fire_once_and_fail_over(pg_db):
    fake = FakeOnebotAPI(access_token="t")
    await fake.start()
    procs = [start_server(pg_db, fake.base_url) for _ in range(2)]
    try:

        async def one_leader() -> bool:
            states = [await health(p) for p in procs]
            return all(states) and sorted(s["leader"] for s in states) == [False, True]

        await until(one_leader, what="both up, one leader")
        b = await seed_groups(20)
        await until(
            lambda: BroadcastFiring.filter(broadcast_id=b.id, status="done").exists(),
            what="the broadcast to be sent",
        )
        await asyncio.sleep(1.0)  # both processes tick several times meanwhile
        assert Counter(m["group_id"] for m in fake.delivered) == {100000 + i: 1 for i in range(20)}
        assert await BroadcastFiring.filter(broadcast_id=b.id).count() == 1

        # Kill the leader: the other takes over within 30 s and fires the next broadcast.
        states = [await health(p) for p in procs]
        leader, follower = procs if states[0]["leader"] else procs[::-1]
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        started = time.monotonic()
        again = await Broadcast.create(
            org_id=b.org_id, rule="once", audience="org_groups", audience_ref=b.audience_ref,
            content="第二条", urgent=True, next_fire_at=datetime.now(UTC),
        )  # fmt: skip
        await until(
            lambda: BroadcastFiring.filter(broadcast_id=again.id, status="done").exists(),
            timeout=30,
            what="the other process to take over",
        )
        assert time.monotonic() - started < 30
        assert (await health(follower))["leader"] is True
        assert len(fake.delivered) == 40
    finally:
        for p in procs:
            stop(p)
        await fake.close()
