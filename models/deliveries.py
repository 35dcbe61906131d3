"""出站投递记录：每次发送的结果一行，党务工作者可以查到什么发给了谁、是否送达。"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from tortoise import connections, fields
from tortoise.functions import Count
from tortoise.models import Model

from bot.db import driver_time, placeholders
from bot.sqlite_direct import DIRECT

# sending: handed to the platform, no answer yet. unknown: was sending when the process
# died; not sent again (a retry could post twice), counted as uncertain instead.
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "refused", "unknown")

# A claimed row of a firing: (id, target, text).
Row = tuple[int, str, str]
# Rows not sent, written per statement (`mark_finished`): 5,000 values on SQLite.
FINISH_CHUNK = 1000


class Delivery(Model):
    id = fields.BigIntField(primary_key=True)
    target = fields.CharField(max_length=191)  # "onebot-group:123", "wechat:oABC"
    platform = fields.CharField(max_length=16)
    purpose = fields.CharField(max_length=32, default="")  # late_reply, broadcast, cli, ...
    # Unique when set: a (broadcast, fire time, target) is delivered at most once.
    dedup_key = fields.CharField(max_length=191, null=True, unique=True)
    text = fields.TextField()
    status = fields.CharField(max_length=16, default="pending")
    error_code = fields.IntField(null=True)
    reason = fields.CharField(max_length=255, default="")
    attempts = fields.IntField(default=0)
    # The broadcast fire time this delivery belongs to (models.broadcasts), if any.
    firing_id = fields.BigIntField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "delivery"
        # (firing_id, id): a firing's claims, totals and recovery (0026).
        indexes = (("target", "created_at"), ("firing_id", "id"))

    # -- a firing's rows, a batch per statement (bot/outbound.py RowPump) ----------
    @classmethod
    async def take_pending(cls, firing_id: int, after_id: int, limit: int) -> list[Row]:
        """Claim up to `limit` pending rows of the firing with id > `after_id` (status
        sending, one conditional UPDATE: two processes never take the same row); their
        (id, target, text), by id."""
        conn = connections.get("default")
        p1, p2, p3 = placeholders(conn, 3)
        sql = (
            "UPDATE delivery SET status = 'sending' WHERE id IN ("
            f"SELECT id FROM delivery WHERE firing_id = {p1} AND status = 'pending' "
            f"AND id > {p2} ORDER BY id LIMIT {p3}) AND status = 'pending' "
            "RETURNING id, target, text"
        )
        rows = await _returning(conn, sql, [firing_id, after_id, limit])
        return sorted((r[0], r[1], r[2]) for r in rows)

    @classmethod
    async def mark_sent(cls, ids: Sequence[int], now: datetime) -> None:
        """Rows answered by their platform: sent, after one attempt (one statement)."""
        if not ids:
            return
        conn = connections.get("default")
        marks = placeholders(conn, len(ids) + 1)
        sql = (
            f"UPDATE delivery SET status = 'sent', attempts = 1, finished_at = {marks[0]} "
            f"WHERE id IN ({','.join(marks[1:])})"
        )
        await _write(conn, sql, [driver_time(conn, now), *ids])

    @classmethod
    async def mark_sent_and_take(
        cls, ids: Sequence[int], now: datetime, firing_id: int, after_id: int, limit: int
    ) -> list[Row]:
        """`mark_sent(ids)` and `take_pending(firing_id, after_id, limit)` in one statement
        (one round trip, one commit): the claimed rows (id, target, text), by id."""
        if not ids:
            return await cls.take_pending(firing_id, after_id, limit)
        conn = connections.get("default")
        take = (
            "SELECT id FROM delivery WHERE firing_id = {} AND status = 'pending' "
            "AND id > {} ORDER BY id LIMIT {}"
        )
        if conn.capabilities.dialect == "postgres":
            # (claimed AND pending) OR marked, as one id list looked up by primary key:
            # with the sub-select inside an OR, PostgreSQL reads the whole table (45 ms
            # per batch at district scale). The re-check is the claim's: a row another
            # process claimed meanwhile is re-read after its lock and left out.
            when = "$1"
            where = (
                f"id IN (SELECT id FROM ({take.format('$2', '$3', '$4')}) claim "
                "UNION ALL SELECT unnest($5::bigint[])) "
                "AND (status = 'pending' OR id = ANY($5::bigint[]))"
            )
            values = [now, firing_id, after_id, limit, list(ids)]
        else:
            # SQLite looks both sides of the OR up by index (MULTI-INDEX OR). Its "?"
            # marks bind left to right, in the order of the parameters.
            when = "?"
            where = (
                f"(id IN ({take.format('?', '?', '?')}) AND status = 'pending') "
                f"OR id IN ({','.join('?' * len(ids))})"
            )
            values = [driver_time(conn, now), firing_id, after_id, limit, *ids]
        # SET reads the old status: a pending row is claimed, a sending one was sent.
        # RETURNING sees the new one: only the claimed rows' target and text are read.
        sql = (
            "UPDATE delivery SET "
            "status = CASE WHEN status = 'pending' THEN 'sending' ELSE 'sent' END, "
            "attempts = CASE WHEN status = 'pending' THEN attempts ELSE 1 END, "
            f"finished_at = CASE WHEN status = 'pending' THEN finished_at ELSE {when} END "
            f"WHERE {where} "
            "RETURNING id, CASE WHEN status = 'sending' THEN target END AS target, "
            "CASE WHEN status = 'sending' THEN text END AS text, status"
        )
        rows = await _returning(conn, sql, values)
        return sorted((r[0], r[1], r[2]) for r in rows if r[3] == "sending")

    @classmethod
    async def mark_finished(
        cls, rows: Iterable[tuple[int, str, int | None, str, int]], now: datetime
    ) -> None:
        """(id, status, error code, reason, attempts) of rows that were not sent: one
        UPDATE per FINISH_CHUNK rows, each row's values joined in by id (the reasons
        often name the target, so rows rarely share an outcome)."""
        found = [(i, status, code, reason[:255], n) for i, status, code, reason, n in rows]
        if not found:
            return
        conn = connections.get("default")
        set_ = "SET status = v.s, error_code = v.c, reason = v.r, attempts = v.a, finished_at = {}"
        for start in range(0, len(found), FINISH_CHUNK):
            chunk = found[start : start + FINISH_CHUNK]
            if conn.capabilities.dialect == "postgres":
                # Five arrays: one short statement, planned once, whatever the count.
                sql = (
                    f"UPDATE delivery {set_.format('$6')} FROM unnest($1::bigint[], "
                    "$2::varchar[], $3::int[], $4::varchar[], $5::int[]) AS v(i, s, c, r, a) "
                    "WHERE delivery.id = v.i"
                )
                values: list[Any] = [*(list(c) for c in zip(*chunk, strict=True)), now]
            else:
                sql = (
                    f"WITH v(i, s, c, r, a) AS (VALUES {','.join(['(?,?,?,?,?)'] * len(chunk))}) "
                    f"UPDATE delivery {set_.format('?')} FROM v WHERE delivery.id = v.i"
                )
                values = [x for row in chunk for x in row] + [driver_time(conn, now)]
            await _write(conn, sql, values)

    @classmethod
    async def count_by_status(cls, firing_id: int) -> dict[str, int]:
        """How many of the firing's rows are in each status (every status, 0 included)."""
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        rows = await (
            cls.filter(firing_id=firing_id)
            .group_by("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        for status, n in rows:
            counts[status] = n
        return counts


async def _returning(conn: Any, sql: str, values: list[Any]) -> Sequence[Sequence[Any]]:
    """The rows of an UPDATE … RETURNING, each in the order of its RETURNING list (named
    apart: PostgreSQL's come as dicts, since tortoise's execute_query drops them there)."""
    if conn.capabilities.dialect == "postgres":
        return [tuple(r.values()) for r in await conn.execute_query_dict(sql, values)]
    # SQLite: on the loop's thread unless the file is locked (bot/sqlite_direct.py).
    fast = DIRECT.execute(conn, sql, values)
    if fast is not None:
        return fast
    _, rows = await conn.execute_query(sql, values)
    return rows  # type: ignore[no-any-return]


async def _write(conn: Any, sql: str, values: list[Any]) -> None:
    """A statement with nothing to return: SQLite's on the loop's thread when it can."""
    if DIRECT.execute(conn, sql, values) is None:
        await conn.execute_query(sql, values)
