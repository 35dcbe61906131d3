"""广播的发送：待发的 Delivery 行成批写入、分几路发出、统计；崩溃后的恢复。"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise import connections

from bot.outbound import Push
from bot.targets import BadTarget, Target
from models.broadcasts import BroadcastFiring
from models.deliveries import Delivery

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.broadcast")

FANOUT_LANES = 4  # fanout_concurrency is split over this many batches in flight


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
        now: Any = self.now()
        if not postgres:
            now = now.isoformat(sep=" ")
        rows = list(pushes)
        written = 0
        cols = 10
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            values: list[Any] = []
            marks = []
            for i, p in enumerate(chunk):
                try:
                    platform = Target.parse(p.target).platform
                except BadTarget:
                    platform = ""
                if postgres:
                    b = i * cols
                    marks.append("(" + ",".join(f"${b + k}" for k in range(1, cols + 1)) + ")")
                else:
                    marks.append("(" + ",".join("?" * cols) + ")")
                values += [p.target[:191], platform, p.purpose[:32], p.key[:191], p.text,
                           "pending", firing_id, now, "", 0]  # fmt: skip
            sql = (
                "INSERT INTO delivery (target, platform, purpose, dedup_key, text, status, "
                "firing_id, created_at, reason, attempts) VALUES "
                + ",".join(marks)
                + " ON CONFLICT (dedup_key) DO NOTHING RETURNING id"
            )
            written += len(await conn.execute_query_dict(sql, values))
        return written

    # -- sending ---------------------------------------------------------------------
    async def send_firing(self, firing: BroadcastFiring) -> None:
        """Send the firing's pending rows a batch at a time, then total it up."""
        conn = connections.get("default")
        postgres = conn.capabilities.dialect == "postgres"
        p = "$1" if postgres else "?"
        q = "$2" if postgres else "?"
        r = "$3" if postgres else "?"  # values in the order they appear: firing, cursor, size
        # From a cursor: rows before it are taken already, so a claim never rescans them.
        take = (
            "UPDATE delivery SET status = 'sending' WHERE id IN ("
            f"SELECT id FROM delivery WHERE firing_id = {p} AND status = 'pending' AND id > {q} "
            f"ORDER BY id LIMIT {r}) AND status = 'pending' RETURNING id, target, text"
        )
        cursor = 0
        outbound = self.runtime.outbound
        # Several lanes, each a batch at a time: a slow send holds up only its own lane.
        lanes = max(1, min(FANOUT_LANES, self.batch // 16))
        size = max(1, self.batch // lanes)

        async def lane() -> None:
            nonlocal cursor
            while not self._stopping and self.is_leader:
                rows = await conn.execute_query_dict(take, [firing.id, cursor, size])
                if not rows:
                    return
                rows.sort(key=lambda r: r["id"])
                cursor = max(cursor, rows[-1]["id"])
                results = await asyncio.gather(
                    *(self._send_one(outbound, r["target"], r["text"]) for r in rows)
                )
                await self._finish(rows, results)

        await asyncio.gather(*(lane() for _ in range(lanes)))
        await self.total(firing.id)

    async def _send_one(self, outbound: Any, target: str, text: str) -> Any:
        from bot.senders.base import SendResult

        try:
            return await outbound.transmit(Target.parse(target), text)
        except BadTarget as exc:
            return SendResult(False, None, str(exc), permanent=True)
        except Exception as exc:  # one bad target must not stop the others
            log.exception("send to %s raised", target)
            return SendResult(False, None, f"{type(exc).__name__}: {exc}")

    async def _finish(self, rows: list[dict[str, Any]], results: list[Any]) -> None:
        now = self.now()
        sent = [r["id"] for r, res in zip(rows, results, strict=True) if res.ok]
        metrics = self.runtime.metrics
        if sent:
            await Delivery.filter(id__in=sent).update(status="sent", attempts=1, finished_at=now)
            platform = Target.parse(rows[0]["target"]).platform if rows else "-"
            metrics.sends.labels(platform, "sent").inc(len(sent))
        for r, res in zip(rows, results, strict=True):
            if res.ok:
                continue
            assert self.runtime.outbound is not None  # sending: the runtime is started
            status = self.runtime.outbound.status_of(res, res.attempts)
            await Delivery.filter(id=r["id"]).update(
                status=status,
                error_code=res.code,
                reason=(res.reason or "")[:255],
                attempts=res.attempts,
                finished_at=now,
            )
            metrics.sends.labels(r["target"].split(":", 1)[0], status).inc()
            log.warning(
                "broadcast delivery %s to %s %s: %s", r["id"], r["target"], status, res.reason
            )

    async def total(self, firing_id: int) -> BroadcastFiring:
        """Count the firing's rows by status; done once nothing is pending or sending."""
        counts: dict[str, int] = {}
        for status in ("pending", "sending", "sent", "failed", "refused", "unknown"):
            counts[status] = await Delivery.filter(firing_id=firing_id, status=status).count()
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
