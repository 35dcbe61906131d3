"""长回复的后续页：等本人说“更多”（bot/pager.py）。"""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.models import Model


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
        await cls.update_or_create(
            user_key=user_key,
            chat_key=chat_key,
            defaults={"pages": pages, "total": total, "expires_at": expires_at},
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
