"""bench.scale's databases: the district's templates and run copies (SQLite, PostgreSQL),
their size, the dedup backlog a district that upgraded finds, and the scheduled jobs
(held back, fired, timed), all on the bench's clock (bench.servers.bench_clock)."""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.servers import current_clock
from bot.db import close_db, init_db, upgrade


def now() -> datetime:
    """The time on the bench's clock (its servers' own)."""
    return current_clock().now()


async def hold_jobs(url: str, due: bool) -> None:
    """Every service job's row (made by the broadcaster's own sync_jobs, as a leader does
    at start) due in a day, or due now: the cases are measured without the jobs, one
    mixed load with all of them."""
    from bot.broadcaster import Broadcaster
    from bot.config import load_config
    from bot.runtime import Runtime
    from models.broadcasts import Broadcast

    rt = Runtime.build(load_config(None, env={"LIANXIN_DATABASE__URL": url}))
    rt.clock = current_clock()
    at = now()
    await init_db(url)
    try:
        await Broadcaster(rt).sync_jobs()
        later = at if due else at + timedelta(days=1)
        await Broadcast.filter(job__not_isnull=True).update(next_fire_at=later)
    finally:
        await close_db()


async def sent_since(url: str, since: datetime) -> int:
    """Pushes the server delivered since `since` (the jobs' and the notices')."""
    from models.deliveries import Delivery

    await init_db(url)
    try:
        return await Delivery.filter(status="sent", created_at__gte=since).count()
    finally:
        await close_db()


async def prepare_sqlite(scale: float, workdir: Path) -> str:
    from models.district.cli import seed_district

    template = workdir.parent / f"district-{scale:g}-{now():%Y%m%d}.sqlite3"
    if not template.exists():
        print(f"generating the district (S={scale:g}) into {template} …", flush=True)
        if await seed_district(f"sqlite://{template}", scale, now=now()):
            raise SystemExit("district generation failed")
    run = workdir / "run.sqlite3"
    shutil.copyfile(template, run)
    url = f"sqlite://{run}"
    await upgrade(url)  # the indexes of newer migrations, on the copy
    return url


def pg_database(url: str, name: str) -> str:
    """`url` naming the database `name` instead: the rest, a query string included (a
    Unix socket: ``postgres://user@/db?host=/run/postgresql&port=5432``), kept."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def prepare_postgres(scale: float, base_url: str) -> str:
    from models.district.cli import seed_district

    name = f"lianxin_scale_{str(scale).replace('.', '_')}_{now():%Y%m%d}"
    admin = await asyncpg.connect(base_url)
    try:
        have = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not have:
            print(f"generating the district (S={scale:g}) into {name} …", flush=True)
            await admin.execute(f'CREATE DATABASE "{name}"')
            if await seed_district(pg_database(base_url, name), scale, now=now()):
                await admin.execute(f'DROP DATABASE "{name}"')
                raise SystemExit("district generation failed")
            # Settled once, as autovacuum leaves a database in use (visibility maps for
            # index-only reads, statistics); every run's copy starts from it.
            fresh = await asyncpg.connect(pg_database(base_url, name))
            try:
                await fresh.execute("VACUUM (ANALYZE)")
            finally:
                await fresh.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}_run" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}_run" TEMPLATE "{name}"')
    finally:
        await admin.close()
    url = pg_database(base_url, f"{name}_run")
    await upgrade(url)
    return url


async def db_size_mb(url: str) -> float:
    if url.startswith("sqlite://"):
        path = Path(url[len("sqlite://") :])
        files = [path, Path(f"{path}-wal")]
        return sum(f.stat().st_size for f in files if f.exists()) / 2**20
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20
    finally:
        await conn.close()


async def dedup_backlog(url: str, scale: float) -> None:
    """inbound_event as a district that upgraded finds it, written before the server
    starts so that ids grow with time as in production (the pruning job walks them from
    the oldest): 15 to 40 days old, more keys than two ticks of the pruning job delete
    (the server's own tick while every job fires takes one), so that its measured tick
    is a full one; then the keys of the last 14 days (100,000 messages a day at S = 1.0),
    which the mixed loads' dedup writes also meet. Random keys: each deleted row is its
    own page of the unique index, the slow case. Generated by the database itself."""
    from tortoise import connections

    from models.events import PRUNE_CHUNK, PRUNE_CHUNKS

    await init_db(url)
    try:
        await _fill_backlog(connections.get("default"), scale, PRUNE_CHUNK * PRUNE_CHUNKS)
    finally:
        await close_db()


async def _fill_backlog(conn: Any, scale: float, tick: int) -> None:
    pg = conn.capabilities.dialect == "postgres"
    at = now()
    for n, oldest, newest in ((tick * 5 // 2, 40, 15), (int(1_400_000 * scale), 14, 0)):
        first = at - timedelta(days=oldest)
        step = (oldest - newest) * 86400 / max(n, 1)  # seconds between two keys
        if pg:
            sql = (
                "INSERT INTO inbound_event (platform, event_key, user_key, command, created_at) "
                "SELECT 'wechat', md5(random()::text), '', '', "
                "$1::timestamptz + g * make_interval(secs => $2) FROM generate_series(1, $3) g"
            )
            await conn.execute_query(sql, [first, step, n])
        else:
            sql = (
                "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?) "
                "INSERT INTO inbound_event (platform, event_key, user_key, command, created_at) "
                "SELECT 'wechat', hex(randomblob(16)), '', '', "
                "strftime('%Y-%m-%d %H:%M:%f+00:00', ?, '+' || (x * ?) || ' seconds') FROM g"
            )
            await conn.execute_query(sql, [n, first.strftime("%Y-%m-%d %H:%M:%S"), step])
    if pg:
        # Vacuumed as well: left to autovacuum, the 1.4 million fresh rows were vacuumed
        # while the server started and during the first loads (start-up read 1.56 s
        # against 0.9 s on a settled copy).
        await conn.execute_script("VACUUM (ANALYZE) inbound_event")


async def time_jobs(url: str) -> dict[str, tuple[float, int]]:
    """One tick of every scheduled job over the whole district, in this process (the
    pruning of dedup keys over the backlog `dedup_backlog` wrote)."""
    from bot.config import load_config
    from bot.runtime import Runtime

    rt = Runtime.build(load_config(None, env={"LIANXIN_DATABASE__URL": url}))
    rt.clock = current_clock()
    await init_db(url)
    out = {}
    try:
        for job in rt.registry.jobs:
            t0 = time.perf_counter()
            pushes = await job.func(rt, now())
            out[job.name] = (time.perf_counter() - t0, len(pushes))
    finally:
        await close_db()
    return out
