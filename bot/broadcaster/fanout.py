"""广播的发送：待发的 Delivery 行成批写入、发出（bot/outbound.py）、统计；崩溃后的恢复。"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise import connections

from bot.db import driver_time, placeholders
from bot.outbound import Push
from bot.targets import BadTarget, Target
from models.broadcasts import BroadcastFiring
from models.deliveries import Delivery

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.broadcast")


class Fanout:
    """Writing and sending a firing's deliveries (Broadcaster's part)."""

    runtime: Runtime
    batch: int
    _stopping: bool

    def now(self) -> datetime:
        return self.runtime.clock.now()

    @property
    def is_leader(self) -> bool:
        raise NotImplementedError

    async def _write_pending(self, firing_id: int, pushes: Iterable[Push]) -> int:
        """Insert one pending Delivery per push; a key written before is left alone."""
        conn = connections.get("default")
        postgres = conn.capabilities.dialect == "postgres"
        now = driver_time(conn, self.now())
        rows = list(pushes)
        written = 0
        cols = 10
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            values: list[Any] = []
            for p in chunk:
                try:
                    platform = Target.parse(p.target).platform
                except BadTarget:
                    platform = ""
                values += [p.target[:191], platform, p.purpose[:32], p.key[:191], p.text,
                           "pending", firing_id, now, "", 0]  # fmt: skip
            # The chunk's marks in one call (PostgreSQL's are numbered through the rows).
            marks = placeholders(conn, cols * len(chunk))
            rows_sql = ",".join(
                "(" + ",".join(marks[i : i + cols]) + ")" for i in range(0, len(marks), cols)
            )
            sql = (
                "INSERT INTO delivery (target, platform, purpose, dedup_key, text, status, "
                "firing_id, created_at, reason, attempts) VALUES "
                + rows_sql
                + " ON CONFLICT (dedup_key) DO NOTHING"
            )
            # The rows inserted (a key written before is not). SQLite counts its changes
            # (no row back: each would be a step of its own); tortoise reads PostgreSQL's
            # "INSERT 0 n" as 0, so there the ids come back.
            if postgres:
                written += len(await conn.execute_query_dict(sql + " RETURNING id", values))
            else:
                written += (await conn.execute_query(sql, values))[0]
        return written

    # -- sending ---------------------------------------------------------------------
    async def send_firing(self, firing: BroadcastFiring) -> None:
        """Send the firing's pending rows (bot/outbound.py: `fanout_concurrency` posts in
        flight, answers written in group commits), then total it up."""
        assert self.runtime.outbound is not None  # sending: the runtime is started
        await self.runtime.outbound.send_firing(
            firing.id, self.batch, lambda: not self._stopping and self.is_leader, self.now
        )
        await self.total(firing.id)

    async def total(self, firing_id: int) -> BroadcastFiring:
        """Count the firing's rows by status; done once nothing is pending or sending."""
        counts = await Delivery.count_by_status(firing_id)
        done = counts["pending"] == 0 and counts["sending"] == 0
        await BroadcastFiring.filter(id=firing_id).update(
            sent=counts["sent"],
            failed=counts["failed"] + counts["refused"],
            uncertain=counts["unknown"],
            status="done" if done else "sending",
            finished_at=self.now() if done else None,
        )
        return await BroadcastFiring.get(id=firing_id)

    async def recover(self) -> int:
        """After a crash: rows on the wire become unknown, pending ones are sent. Returns
        the firings resumed."""
        open_firings = await BroadcastFiring.filter(status="sending").order_by("id")
        for f in open_firings:
            stuck = await Delivery.filter(firing_id=f.id, status="sending").update(
                status="unknown", reason="in flight when the process stopped; not resent"
            )
            if stuck:
                log.warning("firing %s: %d deliveries were in flight at a crash", f.id, stuck)
        for f in open_firings:
            await self.send_firing(f)
        return len(open_firings)
