"""工单的全过程（RequestEvent）与每天的编号计数器（RequestCounter）。"""

from __future__ import annotations

from datetime import datetime

from tortoise import connections, fields
from tortoise.models import Model

from bot.clock import local
from bot.db import placeholders


class RequestCounter(Model):
    """每天一行的编号计数器；在提交诉求的事务里原子加一。"""

    day = fields.CharField(max_length=8, primary_key=True)  # YYMMDD on the configured clock
    seq = fields.IntField(default=0)

    class Meta:
        table = "request_counter"

    @classmethod
    async def next_number(cls, now: datetime) -> str:
        """Q + YYMMDD + 4-digit sequence of the day; unique under concurrency.

        One upsert statement: the row lock (PostgreSQL) or the write lock (SQLite)
        is held until the caller's transaction ends, so sequences never repeat.
        """
        day = local(now).strftime("%y%m%d")
        conn = connections.get("default")
        (mark,) = placeholders(conn, 1)
        sql = (
            f"INSERT INTO request_counter (day, seq) VALUES ({mark}, 1) "
            "ON CONFLICT (day) DO UPDATE SET seq = request_counter.seq + 1 RETURNING seq"
        )
        rows = await conn.execute_query_dict(sql, [day])
        return f"Q{day}{int(rows[0]['seq']):04d}"


class RequestEvent(Model):
    """工单全过程的一步：谁、在哪个会话、什么时候、做了什么、备注。"""

    id = fields.BigIntField(primary_key=True)
    request = fields.ForeignKeyField(
        "models.ServiceRequest", related_name="events", on_delete=fields.CASCADE
    )
    # filed accept forward close reject rate urge; ask answer visit visit_none reopen
    # supervise escalate attach (followup.py)
    action = fields.CharField(max_length=16)
    from_status = fields.CharField(max_length=16, default="")
    to_status = fields.CharField(max_length=16)
    actor = fields.ForeignKeyField(
        "models.Person", related_name="request_events", null=True, on_delete=fields.SET_NULL
    )
    # For a forward: the unit it went to.
    org = fields.ForeignKeyField(
        "models.Organization", related_name="request_events", null=True, on_delete=fields.SET_NULL
    )
    chat = fields.CharField(max_length=191, default="")
    note = fields.TextField(default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "request_event"
        indexes = (("request_id", "created_at"), ("action", "created_at"))  # 回访 figures
