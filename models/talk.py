"""说人话用到的记录：居民属于哪个社区、群里的“自动受理”开关、群里提示的频率闸。"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction


class Residence(Model):
    """一个平台身份属于哪个社区（组织）：最近一次在绑定了组织的群里说话，或 /我的社区。

    Keyed by the platform identity rather than the Person, so that remembering it never
    creates a Person for everybody who speaks in a group.
    """

    id = fields.IntField(primary_key=True)
    user_key = fields.CharField(max_length=191, unique=True)
    org = fields.ForeignKeyField(
        "models.Organization", related_name="residences", on_delete=fields.CASCADE
    )
    org_id: int  # the column tortoise adds, for type checkers
    updated_at = fields.DatetimeField()

    class Meta:
        table = "residence"

    @classmethod
    async def remember(cls, user_key: str, org_id: int, now: datetime) -> None:
        await cls.update_or_create(
            user_key=user_key, defaults={"org_id": org_id, "updated_at": now}
        )


class GroupSetting(Model):
    """一个群的开关（/设置）：自动受理 = 群里像诉求的话，问一句要不要登记。"""

    id = fields.IntField(primary_key=True)
    chat_key = fields.CharField(max_length=191, unique=True)
    auto_intake = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "group_setting"


class PromptGate(Model):
    """At most one prompt per key until `until` ("group:…" 5 minutes, "person:…" 30),
    shared by every process through the database."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=191, unique=True)
    until = fields.DatetimeField()

    class Meta:
        table = "prompt_gate"

    @classmethod
    async def pass_all(cls, gates: dict[str, timedelta], now: datetime) -> bool:
        """Pass every gate at once, or none (a savepoint): True when all were open."""
        try:
            async with in_transaction():
                for key, hold in gates.items():
                    if not await cls._pass(key, now, now + hold):
                        raise _Closed
        except _Closed:
            return False
        return True

    @classmethod
    async def _pass(cls, key: str, now: datetime, until: datetime) -> bool:
        # One conditional UPDATE: of two processes at once, one wins.
        if await cls.filter(key=key, until__lte=now).update(until=until):
            return True
        if await cls.filter(key=key).exists():
            return False
        _, created = await cls.get_or_create(key=key, defaults={"until": until})
        return created


class _Closed(Exception):
    pass
