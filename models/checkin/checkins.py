"""报到 / 离开：一次报到是一行；离开时记去向（流出）。

"At most one open check-in per (person, organisation)" is enforced by the database: the
nullable unique ``open_key`` holds a value only while the check-in is open.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import RawSQL
from tortoise.models import Model

from bot.clock import fmt
from bot.db import page_ids, rows_in_order
from models import widecache
from models.checkin.contact import touch
from models.checkin.registration import check_member
from models.checkin.rules import FLOW_IN, checkin_kind, flow_status_after, open_key
from models.errors import DomainError
from models.grids.ladder import record_contact
from models.people import Organization, Person
from models.people import scope_q as org_scope_q


class CheckIn(Model):
    """一次报到：谁、到哪个组织、哪一类（流入 / 在职）、何时、在哪个会话；离开时记去向。"""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="checkins")
    org = fields.ForeignKeyField(
        "models.Organization", related_name="checkins", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=16, default=FLOW_IN)
    chat = fields.CharField(max_length=191, default="")
    checked_in_at = fields.DatetimeField()
    left_at = fields.DatetimeField(null=True)
    destination = fields.CharField(max_length=100, default="")
    # "person:org" while open, NULL once left: one open check-in per (person, org).
    open_key = fields.CharField(max_length=32, null=True, unique=True)

    class Meta:
        table = "checkin"
        indexes = (
            ("org_id", "checked_in_at"),
            ("person_id", "checked_in_at"),
            # 党员统计's counts of who is here, by kind, and who left: from the index (#15)
            ("org_id", "left_at", "kind", "person_id"),
        )

    @property
    def is_open(self) -> bool:
        return self.left_at is None

    @classmethod
    async def check_in(
        cls,
        person: Person,
        org: Organization,
        kind: str = FLOW_IN,
        *,
        chat: str = "",
        now: datetime,
    ) -> CheckIn:
        """报到。已在这里报到过：拒绝，什么也不改（唯一约束兜底并发）。"""
        kind = checkin_kind(kind)
        await check_member(person)
        key = open_key(person.id, org.id)
        existing = await cls.filter(open_key=key).first()
        if existing is not None:
            raise DomainError(
                "checkin_already", org_name=org.name, since=fmt(existing.checked_in_at), kind=kind
            )
        try:
            row = await cls.create(
                person_id=person.id,
                org_id=org.id,
                kind=kind,
                chat=chat[:191],
                checked_in_at=now,
                open_key=key,
            )
        except IntegrityError:
            raise DomainError(
                "checkin_already", org_name=org.name, since=fmt(now), kind=kind
            ) from None
        await Person.filter(id=person.id).update(local_org_id=org.id, flow_status=kind)
        await touch(person, now)
        row.org = org
        return row

    @classmethod
    async def open_for(cls, person_id: int | None, org_id: int | None = None) -> list[CheckIn]:
        if person_id is None:
            return []
        q = cls.filter(person_id=person_id, left_at__isnull=True)
        if org_id is not None:
            q = q.filter(org_id=org_id)
        return await q.select_related("org").order_by("-checked_in_at", "-id")

    @classmethod
    async def leave_current(
        cls,
        person: Person,
        destination: str,
        *,
        org_id: int | None = None,
        now: datetime,
    ) -> CheckIn:
        """离开：关闭当前的报到（本群组织的那条，否则最近的一条），记下去向（流出）。"""
        destination = (destination or "").strip()
        if not destination:
            raise DomainError("checkin_need_destination")
        rows = await cls.open_for(person.id, org_id)
        if not rows:
            raise DomainError("checkin_not_in")
        row = rows[0]
        await row.leave(destination, now=now)
        return row

    async def leave(self, destination: str, *, now: datetime) -> CheckIn:
        count = await CheckIn.filter(id=self.id, left_at__isnull=True).update(
            left_at=now, destination=destination[:100], open_key=None
        )
        if count != 1:
            raise DomainError("checkin_not_in")
        self.left_at, self.destination, self.open_key = now, destination[:100], None
        still = await CheckIn.filter(person_id=self.person_id, left_at__isnull=True).first()
        await Person.filter(id=self.person_id).update(
            local_org_id=still.org_id if still else None,
            flow_status=flow_status_after([still.kind] if still else []),
        )
        await record_contact([self.person_id], now, "checkin")
        return self

    @classmethod
    async def page_in(
        cls, paths: list[str], page: int, size: int, now: datetime | None = None
    ) -> tuple[list[CheckIn], int]:
        """/流动党员: check-ins to these organisations, open ones first, and their count.
        With `now`, a wide scope's order is reused for a minute (models/widecache.py); the
        rows themselves are read fresh."""

        async def order() -> tuple[list[int], int]:
            query = cls.filter(org_scope_q(paths))
            # The page's ids first, sorted on the check-ins alone; the joins only for those
            # (sorting a district's 20,000 joined rows for 10 took 50–90 ms).
            # "open first" said explicitly: NULLs sort first on SQLite but last on
            # PostgreSQL, so `ORDER BY left_at` alone gave the two databases two orders.
            ids = await page_ids(
                query.annotate(gone=RawSQL("left_at IS NOT NULL")),
                ("gone", "left_at", "-checked_in_at", "-id"),
                (page - 1) * size,
                size,
            )
            return ids, await query.count()

        if now is None:
            ids, total = await order()
        else:
            key = ("flowing", tuple(sorted(paths)), page, size)
            ids, total = await widecache.figures(key, paths, now, order)
        related = ("person", "person__home_org", "person__local_org", "org")
        return await rows_in_order(cls, ids, *related), total

    @classmethod
    async def recent_of(cls, person_id: int, limit: int = 5) -> list[CheckIn]:
        return (
            await cls.filter(person_id=person_id)
            .select_related("org")
            .order_by("-checked_in_at", "-id")
            .limit(limit)
        )
