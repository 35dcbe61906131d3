"""`lianxin demo --scale S` and `python -m bench.district --scale S [--db URL]`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from bot.db import close_db, init_db, upgrade


async def seed_district(url: str, scale: float, seed: int = 15, now: datetime | None = None) -> int:
    from models.district import NotEmpty, generate

    if not 0 < scale <= 10:
        print("--scale: expected more than 0 and at most 10", file=sys.stderr)
        return 2
    await upgrade(url)
    await init_db(url)
    started = time.perf_counter()
    try:
        counts = await generate(scale, seed=seed, now=now, log=lambda line: print(line, flush=True))
    except NotEmpty as exc:
        print(f"demo --scale: {exc}; use an empty database", file=sys.stderr)
        return 1
    finally:
        await close_db()
    for table, n in sorted(counts.items()):
        print(f"{table:28} {n:>9,}")
    print(f"district of scale {scale} written in {time.perf_counter() - started:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    import asyncio

    p = argparse.ArgumentParser(prog="python -m bench.district", description=__doc__)
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = 100,000 people (default)")
    p.add_argument("--db", default="sqlite://bench/results/district.sqlite3", help="database URL")
    p.add_argument("--seed", type=int, default=15)
    args = p.parse_args(argv)
    return asyncio.run(seed_district(args.db, args.scale, args.seed))
