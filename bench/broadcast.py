"""Broadcast: one fire time to 10,000 groups through the broadcaster (claim, pending
rows, batched sends, totals) to the fake OneBot API, next to raw aiohttp client
posts of the same 10,000 messages at the same concurrency (target: ≥ 60 % of raw).

The fake runs in its own process on 127.0.0.1 with no platform limit; the
database is a fresh SQLite file (the embedded default) for each broadcast. Raw posts
and broadcasts take turns `ROUNDS` times, each going first in every other round (so
that neither always meets a fake that has recorded more posts), and the best of each
is compared, so that a burst of other work on the machine does not decide the ratio.

    python -m bench.broadcast [--rounds 5] [--statements] [--profile FILE] [--default-gc]

Both sides are timed with the collector set as `lianxin serve` sets it once started (the
heap frozen, the young generation's threshold raised; the broadcaster runs there in
production); `--default-gc` keeps the interpreter's defaults. Next to the wall time, this
process's CPU (all threads, SQLite's included) per raw post and per delivery: the
broadcaster and the raw client both run here, so it is the cost of a delivery whoever was
the bottleneck. `--statements` counts the SQL statements of the broadcast (SQLite's trace
callback, BEGIN and COMMIT included; costs a little time); `--profile FILE` records the
broadcasts (only them) with py-spy, `--format raw`, for `python -m bench.profile FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
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
ROUNDS = 5
GOAL = 0.60


async def _raw(url: str, n: int, conc: int, opts: Options) -> tuple[float, float]:
    """Seconds and CPU seconds for n raw send_group_msg posts with conc in flight."""
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

        with _as_serve(opts):
            started, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*[worker() for _ in range(conc)])
            return time.perf_counter() - started, time.process_time() - cpu


class Options(argparse.Namespace):
    rounds = ROUNDS
    statements = False
    profile: Path | None = None
    default_gc = False


@contextlib.contextmanager
def _as_serve(opts: Options):  # type: ignore[no-untyped-def]
    """The collector set as `lianxin serve` sets it once started (bot/cli.py: the heap
    frozen, the young generation's threshold raised), for the timed part of either side;
    with --default-gc, the interpreter's defaults (what this process has otherwise)."""
    if opts.default_gc:
        yield
        return
    from bot.cli import GC_YOUNG_THRESHOLD

    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


async def _broadcast(
    url: str, n: int, conc: int, db_file: Path, opts: Options
) -> tuple[float, int, float, int]:
    """Seconds from the fire time's tick to the last delivery; deliveries sent; CPU
    seconds of this process meanwhile; SQL statements (with --statements, else 0)."""
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
        count = await _count_statements() if opts.statements else None
        with _as_serve(opts):
            spy = _spy(opts.profile) if opts.profile else None
            started, cpu = time.perf_counter(), time.process_time()
            await runtime.broadcaster.tick()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            spy.wait(timeout=60)
        statements = await count() if count else 0
        firing = await BroadcastFiring.get(broadcast_id=b.id)
        return elapsed, firing.sent, cpu, statements
    finally:
        await runtime.stop()


async def _count_statements():  # type: ignore[no-untyped-def]
    """Count every statement SQLite runs from now on; returns a coroutine function that
    stops counting and says how many."""
    from tortoise import connections

    conn = connections.get("default")._connection  # aiosqlite.Connection
    seen = [0]

    def note(_sql: str) -> None:
        seen[0] += 1

    await conn._execute(conn._conn.set_trace_callback, note)  # in SQLite's thread

    async def stop() -> int:
        await conn._execute(conn._conn.set_trace_callback, None)
        return seen[0]

    return stop


def _spy(out: Path) -> subprocess.Popen[bytes]:
    tool = Path(sys.executable).parent / "py-spy"
    argv = [str(tool if tool.exists() else shutil.which("py-spy") or "py-spy"), "record"]
    argv += ["--format", "raw", "--rate", "1000", "--nonblocking", "--pid", str(os.getpid())]
    proc = subprocess.Popen([*argv, "-o", str(out)], stdout=subprocess.DEVNULL)
    time.sleep(1)  # let it attach
    return proc


async def broadcast(
    n: int = TARGETS, conc: int = CONCURRENCY, rounds: int = ROUNDS, opts: Options | None = None
) -> dict:
    opts = opts or Options()
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
        await _raw(url, 500, conc, opts)  # warm-up
        raws, runs = [], []
        for i in range(rounds):
            if i % 2 == 0:
                raws.append(await _raw(url, n, conc, opts))
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(await _broadcast(url, n, conc, Path(tmp) / "bench.sqlite3", opts))
            if i % 2 == 1:
                raws.append(await _raw(url, n, conc, opts))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    raw_seconds = min(r[0] for r in raws)
    elapsed, sent, _, statements = min(runs, key=lambda r: r[0] if r[1] == n else float("inf"))
    return {
        "raw_cpu_us": 1e6 * min(r[1] for r in raws) / n,
        "cpu_us": 1e6 * min(r[2] for r in runs) / n,
        "statements": statements,
        "default_gc": opts.default_gc,
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


def costs(r: dict) -> str:
    """This process's CPU per raw post and per delivery (the least of the rounds)."""
    line = f"CPU here: {r['raw_cpu_us']:.0f} µs per raw post, {r['cpu_us']:.0f} µs per delivery"
    if r["statements"]:
        line += f"; {r['statements']:,} SQL statements for {r['targets']:,} targets"
    gc_note = "the interpreter's defaults" if r["default_gc"] else "as lianxin serve sets it"
    return line + f"; collector {gc_note} on both sides"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--statements", action="store_true", help="count the SQL statements")
    ap.add_argument("--profile", type=Path, help="py-spy raw output of the broadcasts")
    ap.add_argument("--default-gc", action="store_true", help="collector left at its defaults")
    opts = ap.parse_args(namespace=Options())
    result = asyncio.run(broadcast(rounds=opts.rounds, opts=opts))
    print(HEADER)
    print(report(result))
    print(costs(result))
