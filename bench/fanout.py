"""Fan-out: 2,000 sends through the OneBot sender to the fake OneBot API, next to raw
aiohttp client posts to the same fake in the same run (target: ≥ 50 % of raw).

The fake runs in its own process on 127.0.0.1 (tests/fakes/onebot_api.py, with
no platform limit); both clients run here, alternating, at the same concurrency.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bot.config import OnebotConfig
from bot.inbound import Reply
from bot.senders.onebot import OnebotSender
from bot.targets import Target

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_fake(port: int) -> None:
    """Child process: the fake OneBot API on 127.0.0.1:port."""
    from aiohttp import web

    from tests.fakes.onebot_api import FakeOnebotAPI

    fake = FakeOnebotAPI(access_token=TOKEN)
    web.run_app(fake.app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _wait_up(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.post(f"{url}/nope", headers={"Authorization": f"Bearer {TOKEN}"}):
                    return
            except aiohttp.ClientError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def _bounded(n: int, conc: int, one, seconds: float) -> tuple[int, float, int]:
    """Run `one(i)` for i < n with `conc` in flight; stop starting new ones after `seconds`."""
    started = time.perf_counter()
    next_i, done, failed = 0, 0, 0

    async def worker() -> None:
        nonlocal next_i, done, failed
        while next_i < n and time.perf_counter() - started < seconds:
            i = next_i
            next_i += 1
            ok = await one(i)
            done += 1
            failed += 0 if ok else 1

    await asyncio.gather(*[worker() for _ in range(conc)])
    return done, time.perf_counter() - started, failed


async def fanout(n: int = 2000, conc: int = 64, rounds: int = 3, seconds: float = 20) -> dict:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from bench.fanout import _serve_fake; _serve_fake({port})"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    totals = {"sender": [0, 0.0, 0], "raw": [0, 0.0, 0]}
    try:
        await _wait_up(url)
        connector = aiohttp.TCPConnector(limit=conc)
        async with aiohttp.ClientSession(connector=connector) as session:
            config = OnebotConfig(enabled=True, secret="x", access_token=TOKEN, api_url=url)
            sender = OnebotSender(config, session)
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

            async def via_sender(i: int) -> bool:
                result = await sender.send(Target("onebot", str(100000 + i)), Reply(f"通知 {i}"))
                return result.ok

            async def raw(i: int) -> bool:
                body = {"user_id": 100000 + i, "message": f"通知 {i}", "auto_escape": True}
                data = json.dumps(body, ensure_ascii=False).encode()
                async with session.post(f"{url}/send_private_msg", data=data, headers=headers) as r:
                    return r.status == 200 and (await r.json())["retcode"] == 0

            for one in (raw, via_sender):  # warm-up: connections, code paths
                await _bounded(200, conc, one, seconds)
            per_round = n // rounds
            for _ in range(rounds):  # alternate, so noise hits both alike
                for name, one in (("raw", raw), ("sender", via_sender)):
                    done, elapsed, failed = await _bounded(per_round, conc, one, seconds)
                    totals[name][0] += done
                    totals[name][1] += elapsed
                    totals[name][2] += failed
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    rates = {k: (v[0] / v[1] if v[1] else 0.0) for k, v in totals.items()}
    return {
        "sends": totals["sender"][0],
        "sender_per_s": rates["sender"],
        "raw_per_s": rates["raw"],
        "failed": totals["sender"][2] + totals["raw"][2],
        "ratio": rates["sender"] / rates["raw"] if rates["raw"] else 0.0,
    }


HEADER = "| fan-out | through the sender | raw client | ratio | verdict |\n|---|---|---|---|---|"


def report(result: dict) -> str:
    verdict = "PASS" if result["ratio"] >= 0.5 and result["failed"] == 0 else "FAIL"
    return (
        f"| OneBot fan-out, {result['sends']:,} sends, concurrency 64 | "
        f"{result['sender_per_s']:,.0f} sends/s | raw aiohttp {result['raw_per_s']:,.0f} posts/s | "
        f"{result['ratio']:.0%} | {verdict} (≥ 50 %, errors {result['failed']}) |"
    )


if __name__ == "__main__":
    print(HEADER)
    print(report(asyncio.run(fanout())))
