"""Broadcast: one fire time to 10,000 groups through the broadcaster (claim, pending
rows, batched sends, totals) to the fake OneBot API, next to raw aiohttp client
posts of the same 10,000 messages at the same concurrency (target: ≥ 60 % of raw).

The fake runs in its own process on 127.0.0.1 with no platform limit; the
database is a fresh SQLite file (the embedded default) for each broadcast. Raw posts
and broadcasts take turns `ROUNDS` times and the best of each is compared, so that a
burst of other work on the machine does not decide the ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.fanout import REPO, TOKEN, _free_port, _wait_up

TARGETS = 10_000
CONCURRENCY = 64
ROUNDS = 3
GOAL = 0.60


async def _raw(url: str, n: int, conc: int) -> float:
    """Seconds for n raw send_group_msg posts with conc in flight."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector) as session:
        next_i = 0

        async def worker() -> None:
            nonlocal next_i
            while next_i < n:
                i = next_i
                next_i += 1
                body = {"group_id": 100000 + i, "message": "今晚七点停水，请提前储水。",
                        "auto_escape": True}  # fmt: skip
                data = json.dumps(body, ensure_ascii=False).encode()
                async with session.post(f"{url}/send_group_msg", data=data, headers=headers) as r:
                    await r.read()

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(conc)])
        return time.perf_counter() - started


async def _broadcast(url: str, n: int, conc: int, db_file: Path) -> tuple[float, int]:
    """Seconds from the fire time's tick to the last delivery; deliveries sent."""
    from bot.config import load_config
    from bot.db import upgrade
    from bot.runtime import Runtime
    from models.broadcasts import Broadcast, BroadcastFiring
    from models.people import GroupBinding, Organization

    db_url = f"sqlite://{db_file}"
    await upgrade(db_url)
    env = {
        "LIANXIN_DATABASE__URL": db_url,
        "LIANXIN_ONEBOT__ENABLED": "true",
        "LIANXIN_ONEBOT__SECRET": "bench",
        "LIANXIN_ONEBOT__ACCESS_TOKEN": TOKEN,
        "LIANXIN_ONEBOT__API_URL": url,
        "LIANXIN_BROADCASTS__FANOUT_CONCURRENCY": str(conc),
        "LIANXIN_BROADCASTS__LEADER_POLL_SECONDS": "0",
        "LIANXIN_BROADCASTS__TICK_SECONDS": "0",
        "LIANXIN_CONSOLE__ENABLED": "false",
    }
    runtime = Runtime.build(load_config(None, env=env))
    await runtime.start()
    try:
        org = await Organization.create_in_tree("BENCH", "压测社区", "community")
        await GroupBinding.bulk_create(
            [GroupBinding(platform="onebot", chat_id=str(100000 + i), org=org) for i in range(n)],
            batch_size=1000,
        )
        await runtime.broadcaster.elect()
        b = await Broadcast.create(
            org=org, rule="once", audience="org_groups", audience_ref=str(org.id),
            content="今晚七点停水，请提前储水。", urgent=True,
            next_fire_at=datetime.now(UTC).replace(microsecond=0),
        )  # fmt: skip
        started = time.perf_counter()
        await runtime.broadcaster.tick()
        elapsed = time.perf_counter() - started
        firing = await BroadcastFiring.get(broadcast_id=b.id)
        return elapsed, firing.sent
    finally:
        await runtime.stop()


async def broadcast(n: int = TARGETS, conc: int = CONCURRENCY, rounds: int = ROUNDS) -> dict:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from bench.fanout import _serve_fake; _serve_fake({port})"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_up(url)
        await _raw(url, 500, conc)  # warm-up
        raws, runs = [], []
        for _ in range(rounds):
            raws.append(await _raw(url, n, conc))
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(await _broadcast(url, n, conc, Path(tmp) / "bench.sqlite3"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    raw_seconds = min(raws)
    elapsed, sent = min(runs, key=lambda r: r[0] if r[1] == n else float("inf"))
    return {
        "targets": n,
        "rounds": rounds,
        "sent": sent,
        "seconds": elapsed,
        "per_s": sent / elapsed if elapsed else 0.0,
        "raw_per_s": n / raw_seconds if raw_seconds else 0.0,
        "ratio": (sent / elapsed) / (n / raw_seconds) if elapsed and raw_seconds else 0.0,
    }


HEADER = (
    "| broadcast | fire → last delivery | targets/s | raw client | ratio | verdict |\n"
    "|---|---|---|---|---|---|"
)


def report(r: dict) -> str:
    verdict = "PASS" if r["ratio"] >= GOAL and r["sent"] == r["targets"] else "FAIL"
    return (
        f"| {r['targets']:,} OneBot groups, concurrency {CONCURRENCY}, SQLite | "
        f"{r['seconds']:.2f} s | {r['per_s']:,.0f} | raw aiohttp {r['raw_per_s']:,.0f} posts/s | "
        f"{r['ratio']:.0%} | {verdict} (≥ {GOAL:.0%}, sent {r['sent']:,}/{r['targets']:,}; "
        f"best of {r['rounds']}) |"
    )


if __name__ == "__main__":
    print(HEADER)
    print(report(asyncio.run(broadcast())))
