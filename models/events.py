"""入站事件日志（去重）与多步对话状态。"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise import fields
from tortoise.models import Model

# Pruning old dedup keys (bot/housekeeping.py): rows per DELETE, DELETEs per tick. Each
# DELETE is a transaction of its own over at most PRUNE_CHUNK consecutive ids, so that no
# lock is held for long and a backlog drains over ticks, not in one statement. Measured
# with random keys (each row a different page of the unique index) in a 2.3-million-row
# table: 1,000 rows took ~29 ms on SQLite (its write lock held that long), ~2 ms on
# PostgreSQL. 250 a statement: while a tick of 20,000 ran in bench-scale's mixed load on
# SQLite, chunks of 1,000 made the members' writes wait behind them (p99 98 ms).
PRUNE_CHUNK = 250
PRUNE_CHUNKS = 80


def dedup_cutoff(now: datetime, keep_days: int) -> datetime | None:
    """Keys written before this are pruned; None (keep_days = 0) keeps every key."""
    return now - timedelta(days=keep_days) if keep_days > 0 else None


class InboundEvent(Model):
    """每个被处理过的入站事件一行；(platform, event_key) 唯一，是"重试不重复执行"的依据。

    Read-only answers are recorded in batches; a command that changes state
    writes its row in the same transaction as the change (bot/dedup.py).
    """

    id = fields.BigIntField(primary_key=True)
    platform = fields.CharField(max_length=16)
    event_key = fields.CharField(max_length=191)
    user_key = fields.CharField(max_length=160, default="")
    command = fields.CharField(max_length=32, default="")
    reply = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "inbound_event"
        unique_together = (("platform", "event_key"),)

    @classmethod
    async def prune(
        cls, before: datetime, chunk: int = PRUNE_CHUNK, chunks: int = PRUNE_CHUNKS
    ) -> int:
        """Delete keys written before `before`, at most `chunk` × `chunks` rows; the count.

        Walks the primary key from the oldest id, `chunk` ids at a time: ids grow with
        time, so the old keys are the first ones, and each step reads and deletes only
        its own range of ids, whatever the table's size. The walk stops at the first
        chunk with nothing old in it (the present) or at the table's end, so a tick with
        nothing to delete is one chunk: two reads and no write (it never waits for the
        write lock), ~2 ms at 1.4 million keys.

        Not ``created_at < before ORDER BY id LIMIT n``: once nothing old is left, that
        reads the whole table on PostgreSQL. Not an index on created_at: a second index
        write for every inbound message (measured A/B on the dedup batch INSERT: +3-14 %
        a row on SQLite, within noise on PostgreSQL) and 38 MB at 1.76 million keys, for
        nothing the walk lacks. Each DELETE still tests created_at, so a recent key among
        old ids (the health probe's row, rewritten in place) stays.
        """
        deleted, after = 0, 0
        for _ in range(chunks):
            span = cls.filter(id__gt=after)
            last = await span.order_by("id").offset(chunk - 1).limit(1).values_list("id", flat=True)
            if last:
                span = span.filter(id__lte=last[0])
            old = span.filter(created_at__lt=before)
            # Read first: a DELETE takes SQLite's write lock even when it finds nothing,
            # and waits out the busy timeout (5 s) while another process holds it.
            gone = await old.delete() if await old.exists() else 0
            deleted += gone
            if not last or not gone:
                break
            after = last[0]
        return deleted


class DialogState(Model):
    """一个人在一个会话里正在进行的多步对话；过期后提示已超时。"""

    id = fields.IntField(primary_key=True)
    user_key = fields.CharField(max_length=160)
    chat_key = fields.CharField(max_length=160)
    dialog = fields.CharField(max_length=64)
    step = fields.CharField(max_length=64)
    data = fields.JSONField(default=dict)
    expires_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "dialog_state"
        unique_together = (("user_key", "chat_key"),)
