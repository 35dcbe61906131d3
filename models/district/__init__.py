"""区级规模的示例数据：`lianxin demo --scale S` / `python -m bench.district --scale S`.

Fills an empty database, SQLite or PostgreSQL, through the project's models with bulk
inserts (`Model.bulk_create`), in the shape the models' own transitions leave behind:
confirmed registrations written into `Person`, open check-ins holding their `open_key`,
seats counted in `Activity.confirmed_count`, one ledger row per attendance, every request
with the `RequestEvent` chain of its state. See plan.py for the sizes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from tortoise import connections
from tortoise.models import Model

from bot.clock import clock_from_env
from models.district.plan import CODE, Plan
from models.people import Organization, Person


class NotEmpty(RuntimeError):
    pass


class Sink:
    """Buffers model instances and writes them in batches, parents before children."""

    def __init__(self, chunk: int = 20_000) -> None:
        self.chunk = chunk
        self.rows: dict[type[Model], list[Model]] = {}
        self.counts: Counter[str] = Counter()

    async def add(self, obj: Model) -> None:
        rows = self.rows.setdefault(type(obj), [])
        rows.append(obj)
        if len(rows) >= self.chunk:
            await self.flush()

    async def flush(self) -> None:
        # dicts keep insertion order: a model's first row came after its parents'.
        for model, rows in self.rows.items():
            if rows:
                await model.bulk_create(rows, batch_size=2_000)
                self.counts[model._meta.db_table] += len(rows)
                rows.clear()


async def is_district() -> bool:
    return await Organization.filter(code=CODE).exists()


async def generate(
    scale: float,
    *,
    now: datetime | None = None,
    seed: int = 15,
    log: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write a district of scale `scale` into the (empty) database; returns rows per table."""
    from models.district import life, people, service

    if await Organization.exists() or await Person.exists():
        raise NotEmpty("the database already has organisations or people")
    plan = Plan(scale, now or clock_from_env().now(), seed)
    sink = Sink()
    started = time.perf_counter()
    for step in (people.write, life.write, service.write):
        await step(plan, sink)
        await sink.flush()
        if log:
            log(f"{step.__module__.rsplit('.', 1)[-1]}: {time.perf_counter() - started:.1f} s")
    await _advance_sequences([m for m in sink.rows if m._meta.pk.generated])
    return dict(sink.counts)


async def _advance_sequences(models: list[type[Model]]) -> None:
    """Rows were written with their ids: move PostgreSQL's id sequences past them."""
    conn = connections.get("default")
    if conn.capabilities.dialect != "postgres":
        return
    for table in (m._meta.db_table for m in models):
        seq = await conn.execute_query_dict("SELECT pg_get_serial_sequence($1, 'id') AS s", [table])
        if seq and seq[0]["s"]:
            await conn.execute_query(
                f"SELECT setval('{seq[0]['s']}', COALESCE((SELECT MAX(id) FROM \"{table}\"), 1))"
            )
