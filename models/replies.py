"""长回复的后续页：等本人说“更多”（bot/pager.py）。"""

from __future__ import annotations

from datetime import datetime

from tortoise import connections, fields
from tortoise.models import Model

from bot.db import driver_time, placeholders


class ReplyPages(Model):
    """一个人在一个会话里还没看的后续页；新的长回复替换旧的。"""

    id = fields.IntField(primary_key=True)
    user_key = fields.CharField(max_length=160)
    chat_key = fields.CharField(max_length=160)
    pages = fields.JSONField(default=list)  # the pages still to read, in order
    total = fields.IntField(default=0)  # pages of the whole reply, for "第 2/3 页"
    expires_at = fields.DatetimeField()

    class Meta:
        table = "reply_pages"
        unique_together = (("user_key", "chat_key"),)

    @classmethod
    async def keep(
        cls, user_key: str, chat_key: str, pages: list[str], total: int, expires_at: datetime
    ) -> None:
        """One upsert (tortoise's update_or_create took a transaction, a locking read
        and an update: four round trips on every long reply, /帮助's among them)."""
        conn = connections.get(cls._meta.default_connection or "default")
        marks = ",".join(placeholders(conn, 5))
        encoded = cls._meta.fields_map["pages"].to_db_value(pages, cls)
        await conn.execute_query(
            f"INSERT INTO reply_pages (user_key, chat_key, pages, total, expires_at) "
            f"VALUES ({marks}) ON CONFLICT (user_key, chat_key) DO UPDATE SET "
            "pages = excluded.pages, total = excluded.total, expires_at = excluded.expires_at",
            [user_key, chat_key, encoded, total, driver_time(conn, expires_at)],
        )

    @classmethod
    async def next_page(cls, user_key: str, chat_key: str, now: datetime) -> tuple[str, int, int]:
        """The next page, its number and the total; ("", 0, 0) when nothing waits."""
        row = await cls.filter(user_key=user_key, chat_key=chat_key).first()
        if row is None or row.expires_at < now or not row.pages:
            return "", 0, 0
        page, rest = row.pages[0], row.pages[1:]
        if rest:
            await cls.filter(id=row.id).update(pages=rest)
        else:
            await cls.filter(id=row.id).delete()
        return page, row.total - len(rest), row.total
