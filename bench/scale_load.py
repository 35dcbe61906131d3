"""Sending for `make bench-scale`: one message at a time (`send`), and the mixed load.

Every message goes over `bench.keepalive` (one persistent connection per simulated
client): the generator's own CPU is taken from the cores it measures, so it is kept
small. The mixed load's clients are callback-driven: each answer, checked, starts the
client's next message from the event loop's read callback, with no task switch.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

from bench.keepalive import HttpError, KeepAlive
from bench.run import machine_cpu_seconds
from bench.scale_cases import Msg
from bench.scale_report import pct
from bench.servers import cpu_seconds

FAILED = "抱歉，处理时出了点问题"
# Refusals (private-only, permission) would measure nothing: counted as errors.
REFUSED = ("请私聊我使用", "您的请求没有执行")
TIMEOUT_S = 30.0  # a reply slower than this counts as an error (and ends its case)
_decode = json.JSONDecoder().decode  # json.loads less its checks of the argument's type


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def verdict(status: int, raw: bytes, error: BaseException | None = None) -> str:
    """The reply's text, or "!…" saying why the message failed."""
    if isinstance(error, TimeoutError):
        return "!timeout"
    if error is not None:
        return f"!{type(error).__name__}: {error}"[:60]
    if status != 200:
        return f"!status {status}"
    reply = _decode(raw.decode()).get("reply", "") if raw else ""
    if isinstance(reply, list):
        reply = "".join(s.get("data", {}).get("text", "") for s in reply)
    if not reply or FAILED in reply or any(w in reply for w in REFUSED):
        return f"!{reply[:60] or 'no reply'}"
    return reply


async def send(conn: KeepAlive, msg: Msg) -> tuple[float, str]:
    """(seconds, the reply's text) of one message; "!…" when it failed."""
    data = msg.request()
    t0 = time.perf_counter()
    try:
        status, raw = await conn.request(data)
    except (TimeoutError, HttpError, OSError) as e:
        return time.perf_counter() - t0, verdict(0, b"", e)
    return time.perf_counter() - t0, verdict(status, raw)


async def mixed(bases, world, clients: int, seconds: float, pids: list[int]) -> dict:
    """80 % member messages, 20 % officer views, `clients` at once, for `seconds`;
    client i talks to bases[i % len(bases)] (several processes: alternately), each over
    its own keep-alive connection."""
    lat: dict[str, list[float]] = {"member": [], "officer": []}
    errors = 0
    peak = [sum(rss_mb(p) for p in pids)]
    deadline = time.perf_counter() + seconds
    rng = random.Random(15)
    loop = asyncio.get_running_loop()

    def client(base: str) -> asyncio.Future[None]:
        conn = KeepAlive(base, TIMEOUT_S)
        finished: asyncio.Future[None] = loop.create_future()
        kind, t0 = "member", 0.0

        def next_message() -> None:
            nonlocal kind, t0
            if time.perf_counter() >= deadline:
                conn.close()
                finished.set_result(None)
                return
            kind = "member" if rng.random() < 0.8 else "officer"
            msg = rng.choice(world.member_mix if kind == "member" else world.officer_mix)
            data = msg.request()
            t0 = time.perf_counter()
            conn.start(data, done)

        def done(status: int, raw: bytes, error: BaseException | None) -> None:
            nonlocal errors
            elapsed = time.perf_counter() - t0
            try:
                reply = verdict(status, raw, error)
                lat[kind].append(elapsed)
                errors += reply.startswith("!")
                next_message()
            except Exception as e:  # ends the load (gather raises it), never hangs it
                conn.close()
                if not finished.done():
                    finished.set_exception(e)

        next_message()
        return finished

    async def watch() -> None:
        while time.perf_counter() < deadline:
            peak.append(sum(rss_mb(p) for p in pids))
            await asyncio.sleep(0.5)

    t0, own0, all0 = time.perf_counter(), time.process_time(), machine_cpu_seconds()
    srv0 = sum(cpu_seconds(p) for p in pids)
    await asyncio.gather(watch(), *(client(bases[i % len(bases)]) for i in range(clients)))
    took = time.perf_counter() - t0
    servers = (sum(cpu_seconds(p) for p in pids) - srv0) / took
    generator = (time.process_time() - own0) / took
    rest = max(0.0, (machine_cpu_seconds() - all0) / took - servers - generator)
    # cores busy meanwhile: the bot's processes, this generator, the rest (PostgreSQL)
    part = {"lat": lat, "took": took, "errors": errors, "peak": max(peak)}
    return merge([{**part, "cores": (servers, generator, rest)}])


def merge(parts: list[dict]) -> dict:
    """One mixed load's figures from several slices of it (`mixed`'s results): the
    requests and seconds added up, percentiles over every latency, cores busy weighted
    by each slice's length."""
    took = sum(p["took"] for p in parts)
    lat = {k: [x for p in parts for x in p["lat"][k]] for k in ("member", "officer")}
    total = len(lat["member"]) + len(lat["officer"])
    return {
        "rps": total / took,
        "member_p99": pct(lat["member"], 99),
        "officer_p99": pct(lat["officer"], 99),
        "member_p50": pct(lat["member"], 50),
        "n": total,
        "errors": sum(p["errors"] for p in parts),
        "rss_peak": max(p["peak"] for p in parts),
        "cores": tuple(sum(p["cores"][i] * p["took"] for p in parts) / took for i in range(3)),
        # for merging again; bench.scale drops them before the report
        "lat": lat,
        "took": took,
        "peak": max(p["peak"] for p in parts),
    }
