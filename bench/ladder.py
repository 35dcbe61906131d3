"""The lost-contact ladder at district scale: `python -m bench.ladder [--members 50000]`.

Fills a fresh database (a temporary SQLite file, or --db postgres://…) with one
district's members (last contact spread over the past 12 months, a tenth of them
living in a grid member's household), then times the monthly job: the first run
(everyone unreached for 3 months, three quarters of the district, moves to 疑似失联 and
the tasks are planned, one message per person to tell), a second run the same day
(moves nobody, plans the same keyed messages), the next month's run (only the newly
unreached) and `/失联` for the whole district.
Prints one line per step; it measures, it does not test.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.db import close_db, init_db, upgrade


async def fill(members: int) -> datetime:
    from models.grids.households import Household
    from models.people import Identity, Organization, Person, RoleGrant

    now = datetime(2026, 11, 1, 1, tzinfo=UTC)
    rnd = random.Random(17)
    district = await Organization.create_in_tree("BQ", "区委", "district")
    community = await Organization.create_in_tree("BQSQ", "社区", "community", district)
    branches = [
        await Organization.create_in_tree(f"BQZB{i}", f"支部{i}", "branch", community)
        for i in range(50)
    ]
    grid = await Organization.create_in_tree("BQWG", "网格", "grid", community)
    officers = await Person.bulk_create([Person(real_name=f"书记{i}") for i in range(50)])
    officers = await Person.filter(real_name__startswith="书记").order_by("id")
    await RoleGrant.bulk_create(
        [
            RoleGrant(person=o, role="officer", org=b)
            for o, b in zip(officers, branches, strict=True)
        ]
    )
    worker = await Person.create(real_name="网格员")
    await RoleGrant.create(person=worker, role="grid_worker", org=grid)
    await Identity.bulk_create(
        [Identity(platform="console", user_id=f"p{p.id}", person=p) for p in [*officers, worker]]
    )
    batch = []
    for i in range(members):
        seen = now - timedelta(days=rnd.randint(0, 365))
        batch.append(Person(real_name=f"党员{i}", relation_status="registered",
                            home_org_id=branches[i % 50].id, last_seen_at=seen))  # fmt: skip
        if len(batch) == 5000:
            await Person.bulk_create(batch)
            batch = []
    await Person.bulk_create(batch)
    ids = (
        await Person.filter(real_name__startswith="党员")
        .limit(members // 10)
        .values_list("id", flat=True)
    )
    await Household.bulk_create(
        [
            Household(
                grid=grid,
                address=f"{i}-1-101",
                address_key=f"{i}-1-101",
                head_name="户主",
                worker=worker,
                member_id=pid,
                created_at=now,
                updated_at=now,
            )
            for i, pid in enumerate(ids)
        ]
    )
    return now


async def main_async(members: int, url: str) -> None:
    from bot.runtime import Runtime
    from handlers.grids.ladder import lost_contact_ladder
    from models.grids.ladder import rungs

    await upgrade(url)
    await init_db(url)
    try:
        t0 = time.perf_counter()
        now = await fill(members)
        print(f"filled {members:,} members in {time.perf_counter() - t0:.1f} s")
        runtime = Runtime.build(load_config(None, env={"LIANXIN_DATABASE__URL": url}))
        for label in ("first run (moves and plans tasks)", "second run (idempotent)"):
            t0 = time.perf_counter()
            pushes = await lost_contact_ladder(runtime, now)
            ms = (time.perf_counter() - t0) * 1000
            print(f"ladder job, {label}: {ms:,.0f} ms, {len(pushes):,} keyed tasks")
        later = now + timedelta(days=31)  # the next month: only the newly unreached move
        t0 = time.perf_counter()
        pushes = await lost_contact_ladder(runtime, later)
        ms = (time.perf_counter() - t0) * 1000
        print(f"ladder job, next month: {ms:,.0f} ms, {len(pushes):,} keyed tasks")
        t0 = time.perf_counter()
        _, total = await rungs(now, ["/"])
        ms = (time.perf_counter() - t0) * 1000
        print(f"/失联 for the district: {ms:,.0f} ms, {total:,} members on the ladder")
    finally:
        await close_db()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ladder")
    p.add_argument("--members", type=int, default=50_000)
    p.add_argument("--db", help="postgres://… (an empty database); default a temp SQLite file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite://{tmp}/ladder.sqlite3"
        asyncio.run(main_async(args.members, url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
