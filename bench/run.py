"""make bench: the bot against two reference servers, all on 127.0.0.1.

    python -m bench.run [--requests 15000] [--seconds 10] [--concurrency 1,16,64] [--rounds 5]

Every server runs in its own process and all stay up; one target is measured at a
time, and the targets take turns (ABAB…) in short slices. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
from yarl import URL

from bench import payloads as p
from bench.run_report import Cell, report
from bench.servers import REPO, Server, Servers, channel_exists

RESULTS = REPO / "bench" / "results" / "latest.md"
PROFILE = REPO / "bench" / "results" / "lianxin.folded"


@dataclass
class Target:
    name: str
    server: str  # key into the started servers
    build: Callable[[int], p.Request]
    check: Callable[[p.Request, int, bytes], str | None]


TARGETS = [
    Target("bare aiohttp", "bare", p.onebot_request, p.check_bare_reply),
    Target(
        "wechatpy-only plain",
        "wechatpy",
        partial(p.wechat_request, safe=False),
        partial(p.check_wechat_reply, safe=False),
    ),
    Target(
        "wechatpy-only safe",
        "wechatpy",
        partial(p.wechat_request, safe=True),
        partial(p.check_wechat_reply, safe=True),
    ),
    Target(
        "lianxin wechat plain",
        "lianxin",
        partial(p.wechat_request, safe=False),
        partial(p.check_wechat_reply, safe=False),
    ),
    Target(
        "lianxin wechat safe",
        "lianxin",
        partial(p.wechat_request, safe=True),
        partial(p.check_wechat_reply, safe=True),
    ),
    Target("lianxin onebot", "lianxin", p.onebot_request, p.check_onebot_reply),
]

_seq = itertools.count(1_000_000)  # MsgId / message_id: unique in the whole run


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine (all cores) from /proc/stat, in seconds."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


async def run_slice(
    target: Target, server: Server, concurrency: int, requests: int, seconds: float, cell: Cell
) -> None:
    """Warm up, then send up to `requests` within `seconds`; check the replies afterwards."""
    warmup = max(50, 2 * concurrency)
    pool = []
    for _ in range(warmup + requests):  # signing and encryption happen here, untimed
        req = target.build(next(_seq))
        pool.append((URL(server.base + req.path, encoded=True), req))
    results: list[tuple[p.Request, int, bytes, float]] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=10)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(queue: list, deadline: float, record: bool) -> None:
            while queue and time.perf_counter() < deadline:
                url, req = queue.pop()
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=req.body, headers=req.headers) as resp:
                        body = await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if record:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if record:
                    results.append((req, resp.status, body, time.perf_counter() - t0))

        async def phase(queue: list, limit: float, record: bool) -> float:
            start = time.perf_counter()
            deadline = start + limit
            await asyncio.gather(*(worker(queue, deadline, record) for _ in range(concurrency)))
            return time.perf_counter() - start

        await phase(pool[requests:], 5.0, record=False)  # warm-up: connections, caches
        measured = pool[:requests]
        measured.reverse()  # pop() from the end sends them in build order
        gc.collect()
        gc.disable()  # keep the generator lean while timing
        cpu0, srv0, all0 = time.process_time(), server.cpu_seconds(), machine_cpu_seconds()
        try:
            elapsed = await phase(measured, seconds, record=True)
        finally:
            gc.enable()
        cell.bench_cpu += time.process_time() - cpu0
        cell.server_cpu += server.cpu_seconds() - srv0
        cell.machine_cpu += machine_cpu_seconds() - all0

    cell.seconds += elapsed
    cell.errors += len(failures)
    ok_before = cell.ok
    for req, status, body, latency in results:
        cell.latencies.append(latency)
        problem = target.check(req, status, body)
        if problem is None:
            cell.ok += 1
        else:
            cell.errors += 1
            failures.append(problem)
    if failures and not cell.first_error:
        cell.first_error = failures[0]
    cell.slices.append((cell.ok - ok_before, elapsed))


def start_servers(
    servers: Servers, targets: list[Target], missing: dict[str, str]
) -> dict[str, Server]:
    """Start what the targets need and wait until it answers; note in `missing` what did not."""
    needed = {t.server for t in targets}

    def on(server: str) -> list[Target]:
        return [t for t in targets if t.server == server]

    started = {kind: servers.reference(kind) for kind in ("bare", "wechatpy") if kind in needed}
    wechat, onebot = channel_exists("wechat"), channel_exists("onebot")
    for t in targets:
        if t.name.startswith("lianxin wechat") and not wechat:
            missing[t.name] = "bot/channels/wechat.py missing"
        if t.name == "lianxin onebot" and not onebot:
            missing[t.name] = "bot/channels/onebot.py missing"
    if "lianxin" in needed and (wechat or onebot):
        try:
            started["lianxin"] = servers.lianxin(wechat, onebot)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(exc, file=sys.stderr)
            missing.update({t.name: "lianxin setup failed" for t in on("lianxin")})
    for name, server in list(started.items()):
        try:
            servers.wait_ready(server)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            del started[name]
            missing.update({t.name: f"{name} did not start" for t in on(name)})
    return started


async def bench(args: argparse.Namespace, workdir: Path) -> None:
    deadline = time.monotonic() + args.cap
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    targets = [t for t in TARGETS if not args.only or any(o in t.name for o in args.only)]
    missing: dict[str, str] = {}
    cells: dict[tuple[str, int], Cell] = {}
    with Servers(workdir) as servers:
        started = start_servers(servers, targets, missing)
        runnable = [t for t in targets if t.server in started and t.name not in missing]
        print(f"servers up: {', '.join(f'{k} :{s.port}' for k, s in started.items())}")
        spy = None
        if args.profile and "lianxin" in started:
            pid = str(started["lianxin"].proc.pid)
            argv = [str(_tool("py-spy")), "record", "--format", "raw", "--rate", "1000"]
            argv += ["--nonblocking", "--pid", pid, "-o", str(PROFILE)]
            spy = servers.start("py-spy", argv, 0, workdir)
            time.sleep(1)  # let it attach
        per_slice = max(1, args.requests // args.rounds)
        seconds = args.seconds / args.rounds
        schedule = [  # ABAB…: each round and concurrency visits every target, rotated
            (rnd, conc, i, runnable[(i + rnd) % len(runnable)])
            for rnd, conc in itertools.product(range(args.rounds), concurrencies)
            for i in range(len(runnable))
        ]
        for rnd, conc, i, t in schedule:
            if time.monotonic() + seconds + 5 > deadline:
                print("bench: time cap near, reporting what was measured", file=sys.stderr)
                break
            if i == 0:
                print(f"  round {rnd + 1}/{args.rounds}, concurrency {conc}", flush=True)
            cell = cells.setdefault((t.name, conc), Cell())
            await run_slice(t, started[t.server], conc, per_slice, seconds, cell)
        for name, server in started.items():
            if server.proc.poll() is not None:
                print(f"{name} died during the run:\n{server.log_tail()}", file=sys.stderr)
        if spy is not None:
            spy.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            spy.proc.wait(timeout=30)
    text, md = report(cells, targets, concurrencies, missing, args)
    print(f"\n{text}")
    if not args.only or any("fanout" in o for o in args.only):
        from bench import fanout

        line = fanout.report(await fanout.fanout())
        print(f"\n{fanout.HEADER}\n{line}")
        md += f"\n\n{fanout.HEADER}\n{line}\n"
    if not args.only or any("broadcast" in o for o in args.only):
        from bench import broadcast

        result = await broadcast.broadcast()
        line = broadcast.report(result)
        print(f"\n{broadcast.HEADER}\n{line}\n{broadcast.costs(result)}")
        md += f"\n\n{broadcast.HEADER}\n{line}\n\n{broadcast.costs(result)}\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(md, "utf-8")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
    if args.profile and PROFILE.exists():
        from bench.profile import summary

        print(f"\nprofile (numbers above are slowed by sampling): {PROFILE.relative_to(REPO)}")
        print(summary(PROFILE))


def _tool(name: str) -> Path:
    """A console script next to this Python (the venv), else on PATH."""
    local = Path(sys.executable).parent / name
    return local if local.exists() else Path(shutil.which(name) or name)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=15000, help="per target and concurrency")
    ap.add_argument("--seconds", type=float, default=10.0, help="per target and concurrency")
    ap.add_argument("--concurrency", default="1,16,64", help="comma-separated")
    ap.add_argument("--rounds", type=int, default=5, help="alternating slices per cell")
    ap.add_argument("--only", action="append", help="run targets whose name contains this")
    ap.add_argument("--cap", type=float, default=360.0, help="hard limit for the whole run (s)")
    ap.add_argument("--profile", action="store_true", help="record lianxin with py-spy")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with it ignored
    with tempfile.TemporaryDirectory(prefix="lianxin-bench-") as tmp:
        try:
            # The loop stops starting slices near the cap; this is the backstop.
            asyncio.run(asyncio.wait_for(bench(args, Path(tmp)), args.cap + 60))
        except TimeoutError:
            print(f"bench: stopped after the {args.cap:.0f} s cap", file=sys.stderr)
        except KeyboardInterrupt:
            print("bench: interrupted; servers stopped", file=sys.stderr)
            return 130
    return 0  # a measurement, not a test: PASS/FAIL is in the table


if __name__ == "__main__":
    sys.exit(main())
