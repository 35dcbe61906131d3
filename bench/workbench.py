"""党务工作台 at district scale: `python -m bench.workbench [--scale 0.1] [--rounds 20]`.

Fills a fresh database (a temporary SQLite file, or --db postgres://… of an empty
database) with a district (models/district: scale 1.0 = 100,000 people, 1,000 branches,
30,000 requests), starts `lianxin serve` in its own process on 127.0.0.1, logs in as
the district's officer (the widest scope) and as one branch secretary through
`lianxin admin login-link`, and times each page: one warm-up, then `rounds` requests one
after another. Prints p50 / p95 / max per page; it measures, it does not test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

PAGES = [
    "/admin/",
    "/admin/requests",
    "/admin/requests?overdue=1",
    "/admin/requests?status=all&page=50",
    "/admin/approvals",
    "/admin/people",
    "/admin/people?category=lost",
    "/admin/people?q=138",
    "/admin/activities",
    "/admin/broadcasts",
    "/admin/audit",
]
SECRET = "bench-secret-of-the-workbench-0123456789"


async def officers(url: str) -> dict[str, str]:
    """The district's first officer and one branch secretary, as PLATFORM:USER."""
    from bot.db import close_db, init_db
    from models.people import Identity, RoleGrant

    await init_db(url)
    try:
        found = {}
        for kind in ("district", "branch"):
            grant = await RoleGrant.filter(role="officer", org__kind=kind).order_by("id").first()
            ident = await Identity.filter(person_id=grant.person_id).first()
            found[kind] = f"{ident.platform}:{ident.user_id}"
        return found
    finally:
        await close_db()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def login(session: aiohttp.ClientSession, base: str, env: dict[str, str], who: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "admin", "login-link", who],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    path = re.search(r"/admin/login\?token=[\w-]+", out).group(0)
    async with session.get(base + path) as page:
        html = await page.text()
    csrf = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    token = path.split("=", 1)[1]
    async with session.post(f"{base}/admin/login", data={"token": token, "_csrf": csrf}) as r:
        assert r.status == 200, r.status


async def measure(base: str, env: dict[str, str], who: str, rounds: int) -> list[str]:
    jar = aiohttp.CookieJar(unsafe=True)
    lines = []
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        await login(session, base, env, who)
        for path in PAGES:
            times = []
            for i in range(rounds + 1):
                started = time.perf_counter()
                async with session.get(base + path) as resp:
                    await resp.read()
                    assert resp.status == 200, (path, resp.status)
                if i:  # the first is the warm-up
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            lines.append(f"| {path} | {times[len(times) // 2]:.0f} | {p95:.0f} | {times[-1]:.0f} |")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.workbench", description=__doc__)
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--db", help="an empty database (default: a temporary SQLite file)")
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite://{Path(tmp.name) / 'district.sqlite3'}"
    from models.district.cli import seed_district

    if asyncio.run(seed_district(url, args.scale)) != 0:
        return 1
    who = asyncio.run(officers(url))
    port = free_port()
    env = {
        **os.environ,
        "LIANXIN_DATABASE__URL": url,
        "LIANXIN_ADMIN__ENABLED": "true",
        "LIANXIN_ADMIN__SECRET": SECRET,
        "LIANXIN_ADMIN__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LIANXIN_BROADCASTS__TICK_SECONDS": "0",
        "LIANXIN_BROADCASTS__LEADER_POLL_SECONDS": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # up within 20 s
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.2)
        for kind in ("district", "branch"):
            print(
                f"\n{kind} officer ({who[kind]}), scale {args.scale}, {args.rounds} requests each"
            )
            print("| page | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
            for line in asyncio.run(measure(base, env, who[kind], args.rounds)):
                print(line, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
