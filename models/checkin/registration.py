"""党员亮身份（登记）：由所属组织的党务工作者确认或驳回。

Every state change is one conditional ``UPDATE … WHERE status IN (…)`` fed from the
`REGISTRATION` table (models/checkin/rules.py) whose row count decides who won, so two
officers confirming at once cannot both succeed. "At most one pending registration per
person" is enforced by the database: the nullable unique ``pending_key`` holds a value
only while the row is pending (SQLite and PostgreSQL allow many NULLs under a unique
constraint).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from bot.db import page_rows
from models.checkin.contact import touch
from models.checkin.rules import (
    MEMBER_RELATIONS,
    MEMBER_TYPES,
    REGISTRATION,
    normalize_name,
    normalize_phone,
    parse_number,
    relation_status,
)
from models.errors import DomainError
from models.people import Organization, Person, RoleGrant
from models.people import scope_q as org_scope_q

PENDING = REGISTRATION.initial
Numbered = TypeVar("Numbered", bound=Model)


class OfficerLike(Protocol):
    def is_officer_of(self, org: Any) -> bool: ...


async def by_number(model: type[Numbered], text: str, unknown: str, *related: str) -> Numbered:
    """A registration or transfer by its number as typed; DomainError `unknown` if none."""
    number = parse_number(text)
    row = (
        await model.filter(id=number).select_related(*related).first()
        if number is not None
        else None
    )
    if row is None:
        raise DomainError(unknown, number=text)
    return row


class MemberRegistration(Model):
    """一份党员登记（亮身份），由所属组织的党务工作者确认或驳回。"""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="registrations", on_delete=fields.CASCADE
    )
    # Whose officers confirm it: the home branch when it is in the system, else
    # the local community the person named.
    org = fields.ForeignKeyField(
        "models.Organization", related_name="registrations", on_delete=fields.RESTRICT
    )
    real_name = fields.CharField(max_length=64, default="")
    phone = fields.CharField(max_length=20, default="")
    home_org = fields.ForeignKeyField(
        "models.Organization",
        related_name="home_registrations",
        null=True,
        on_delete=fields.SET_NULL,
    )
    home_text = fields.CharField(max_length=100, default="")
    member_type = fields.CharField(max_length=16, default="full")
    relation_handed = fields.BooleanField(default=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    # str(person_id) while pending, NULL after: one pending registration per person.
    pending_key = fields.CharField(max_length=32, null=True, unique=True)
    reason = fields.TextField(default="")
    reply_target = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    decided_by = fields.ForeignKeyField(
        "models.Person", related_name="decided_registrations", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "member_registration"
        # (status, created_at, id): a wide scope's pending ones in their order, read from
        # the oldest until the page is full (/待确认 of a district)
        indexes = (
            ("org_id", "status"),
            ("person_id", "status"),
            ("home_org_id", "status"),
            ("status", "created_at", "id"),
        )

    @property
    def pocket(self) -> bool:
        return not self.relation_handed

    @property
    def home_name(self) -> str:
        return self.home_org.name if self.home_org_id and self.home_org else self.home_text

    @classmethod
    async def submit(
        cls,
        person: Person,
        org: Organization,
        *,
        real_name: str,
        phone: str,
        home_org: Organization | None = None,
        home_text: str = "",
        member_type: str = "full",
        relation_handed: bool = True,
        reply_target: str = "",
        now: datetime,
    ) -> tuple[MemberRegistration, bool]:
        """登记；已有待确认的登记就更新它。Returns (registration, updated)."""
        values = {
            "org_id": org.id,
            "real_name": normalize_name(real_name),
            "phone": normalize_phone(phone),
            "home_org_id": home_org.id if home_org else None,
            "home_text": "" if home_org else (home_text or "").strip()[:100],
            "member_type": member_type if member_type in MEMBER_TYPES else "full",
            "relation_handed": bool(relation_handed),
            "reply_target": reply_target[:191],
            "updated_at": now,
        }
        if home_org is None and not values["home_text"]:
            raise DomainError("checkin_need_home")
        editable = cls.filter(person_id=person.id, status__in=REGISTRATION.sources("edit"))
        if await editable.update(**values):
            return await cls.get(person_id=person.id, status=PENDING).select_related(
                "org", "home_org"
            ), True
        try:
            reg = await cls.create(
                person_id=person.id,
                status=PENDING,
                pending_key=str(person.id),
                created_at=now,
                **values,
            )
        except IntegrityError:
            # A concurrent /登记 of the same person created it first.
            raise DomainError("checkin_reg_busy") from None
        await touch(person, now)
        return await cls.get(id=reg.id).select_related("org", "home_org"), False

    @classmethod
    async def by_number(cls, text: str) -> MemberRegistration:
        return await by_number(cls, text, "checkin_reg_unknown", "org", "home_org", "person")

    @classmethod
    async def pending_in(cls, paths: list[str], limit: int = 50) -> list[MemberRegistration]:
        """The registrations waiting for the officers of these organisations, oldest first.
        Their ids first, then the rows with their joins: PostgreSQL planned the joined
        statement afresh on every call (its LIMIT is a parameter), 1–2 ms each."""
        query = cls.filter(org_scope_q(paths), status=PENDING)
        return await page_rows(query, ("created_at", "id"), 0, limit, "org", "home_org", "person")

    @classmethod
    async def recent_of(cls, person_id: int, limit: int = 3) -> list[MemberRegistration]:
        return (
            await cls.filter(person_id=person_id)
            .select_related("org", "home_org")
            .order_by("-id")
            .limit(limit)
        )

    def check_officer(self, caller: OfficerLike) -> None:
        if not caller.is_officer_of(self.org):
            raise DomainError("checkin_reg_scope", number=self.id, org_name=self.org.name)

    async def confirm(
        self, by: Person, caller: OfficerLike, *, now: datetime
    ) -> MemberRegistration:
        """确认：登记生效，登记的内容写进 Person。只有一位党务工作者能确认成功。"""
        self.check_officer(caller)
        await self._move("confirm", decided_at=now, decided_by_id=by.id)
        self.decided_at, self.decided_by_id = now, by.id
        await Person.filter(id=self.person_id).update(
            real_name=self.real_name,
            phone=self.phone,
            home_org_id=self.home_org_id,
            home_branch=self.home_name[:100],
            member_type=self.member_type,
            relation_status=relation_status(self.relation_handed),
        )
        return self

    async def reject(
        self, reason: str, by: Person, caller: OfficerLike, *, now: datetime
    ) -> MemberRegistration:
        """驳回：写明原因；本人可以改好后重新 /登记。"""
        self.check_officer(caller)
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("checkin_need_reason")
        await self._move("reject", decided_at=now, decided_by_id=by.id, reason=reason)
        self.reason, self.decided_at, self.decided_by_id = reason, now, by.id
        return self

    async def _move(self, action: str, **values: Any) -> None:
        """The conditional UPDATE of `action` (REGISTRATION): one winner, the others refused."""
        target = REGISTRATION.target(action)
        count = await MemberRegistration.filter(
            id=self.id, status__in=REGISTRATION.sources(action)
        ).update(status=target, pending_key=None, **values)
        if count != 1:
            fresh = await MemberRegistration.get(id=self.id)
            raise DomainError(
                "checkin_reg_state", number=self.id, status=fresh.status, action=action
            )
        self.status = target

    @classmethod
    async def withdraw_all(cls, person_id: int) -> None:
        """The person erased their data: a pending registration is withdrawn."""
        await cls.filter(person_id=person_id, status__in=REGISTRATION.sources("withdraw")).update(
            status=REGISTRATION.target("withdraw")
        )


async def check_member(person: Person) -> None:
    """报到 is for party members: a confirmed registration, or the member role granted by an
    operator (officers and admins count). Anyone else is offered /登记."""
    members = Person.filter(id=person.id, relation_status__in=MEMBER_RELATIONS)
    if await members.exists():  # as stored: a confirmation may be newer than `person`
        return
    if await RoleGrant.filter(
        person_id=person.id, role__in=("member", "officer", "admin")
    ).exists():
        return
    pending = await MemberRegistration.filter(person_id=person.id, status=PENDING).exists()
    raise DomainError("checkin_not_member", pending=pending)
