"""接转组织关系：转出方的党务工作者批准或驳回，每一步记一条 TransferEvent。

Each decision is one conditional ``UPDATE … WHERE status IN (…)`` fed from the `TRANSFER`
table (models/checkin/rules.py); "at most one pending transfer per person" is the nullable
unique ``pending_key``, as for registrations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from models.checkin.contact import touch
from models.checkin.registration import by_number
from models.checkin.rules import TRANSFER, check_destination
from models.errors import DomainError
from models.people import Organization, Person


class OfficerLike(Protocol):
    def is_officer_of(self, org: Any) -> bool: ...


class ViewerLike(OfficerLike, Protocol):
    person_id: int | None


class TransferRequest(Model):
    """组织关系接转申请：转出方的党务工作者批准或驳回，每一步记一条 TransferEvent。"""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="transfers")
    from_org = fields.ForeignKeyField(
        "models.Organization", related_name="transfers_out", on_delete=fields.RESTRICT
    )
    to_org = fields.ForeignKeyField(
        "models.Organization", related_name="transfers_in", null=True, on_delete=fields.SET_NULL
    )
    to_text = fields.CharField(max_length=100, default="")
    reason = fields.TextField(default="")
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    pending_key = fields.CharField(max_length=32, null=True, unique=True)
    note = fields.TextField(default="")  # 批准说明 or 驳回原因
    reply_target = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "transfer_request"

    @property
    def to_name(self) -> str:
        return self.to_org.name if self.to_org_id and self.to_org else self.to_text

    @classmethod
    async def file(
        cls,
        person: Person,
        from_org: Organization,
        *,
        to_org: Organization | None = None,
        to_text: str = "",
        reason: str = "",
        reply_target: str = "",
        chat: str = "",
        now: datetime,
    ) -> TransferRequest:
        to_text = "" if to_org else (to_text or "").strip()[:100]
        if to_org is None and not to_text:
            raise DomainError("checkin_need_destination")
        check_destination(from_org.id, to_org.id if to_org else None, from_org.name)
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("checkin_need_reason")
        if await cls.filter(pending_key=str(person.id)).exists():
            raise DomainError("transfer_pending_exists")
        try:
            tr = await cls.create(
                person_id=person.id,
                from_org_id=from_org.id,
                to_org_id=to_org.id if to_org else None,
                to_text=to_text,
                reason=reason[:500],
                status=TRANSFER.initial,
                pending_key=str(person.id),
                reply_target=reply_target[:191],
                created_at=now,
            )
        except IntegrityError:
            raise DomainError("transfer_pending_exists") from None
        # As by_number loads it: the notice names the person (checkin_notice.j2).
        tr.person, tr.from_org, tr.to_org = person, from_org, to_org
        await tr._log("filed", "", TRANSFER.initial, person, chat, tr.reason, now)
        await touch(person, now)
        return tr

    @classmethod
    async def by_number(cls, text: str) -> TransferRequest:
        return await by_number(cls, text, "transfer_unknown", "from_org", "to_org", "person")

    @classmethod
    async def latest_of(cls, person_id: int | None) -> TransferRequest:
        """The person's newest transfer (/转接进度 without a number)."""
        tr = (
            await cls.filter(person_id=person_id)
            .select_related("from_org", "to_org", "person")
            .order_by("-id")
            .first()
            if person_id is not None
            else None
        )
        if tr is None:
            raise DomainError("transfer_none")
        return tr

    def check_viewer(self, caller: ViewerLike) -> None:
        """The applicant, and the officers of either side, may follow a transfer."""
        if self.person_id == caller.person_id:
            return
        if not any(caller.is_officer_of(o) for o in (self.from_org, self.to_org) if o is not None):
            raise DomainError("transfer_not_yours", number=self.id)

    def check_sender(self, caller: OfficerLike) -> None:
        """Only the sending side (转出方) decides."""
        if not caller.is_officer_of(self.from_org):
            raise DomainError("transfer_wrong_side", number=self.id, org_name=self.from_org.name)

    async def approve(
        self,
        by: Person,
        caller: OfficerLike,
        note: str = "",
        *,
        chat: str = "",
        now: datetime,
    ) -> TransferRequest:
        self.check_sender(caller)
        await self._move("approve", by, chat, (note or "").strip(), now)
        await Person.filter(id=self.person_id).update(
            home_org_id=self.to_org_id, home_branch=self.to_name[:100]
        )
        return self

    async def reject(
        self,
        reason: str,
        by: Person,
        caller: OfficerLike,
        *,
        chat: str = "",
        now: datetime,
    ) -> TransferRequest:
        self.check_sender(caller)
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("checkin_need_reason")
        await self._move("reject", by, chat, reason, now)
        return self

    async def _move(self, action: str, by: Person, chat: str, note: str, now: datetime) -> None:
        """The conditional UPDATE of `action` (TRANSFER): one winner, the others refused."""
        sources, target = TRANSFER.sources(action), TRANSFER.target(action)
        count = await TransferRequest.filter(id=self.id, status__in=sources).update(
            status=target, pending_key=None, decided_at=now, note=note
        )
        if count != 1:
            fresh = await TransferRequest.get(id=self.id)
            raise DomainError("transfer_state", number=self.id, status=fresh.status, action=action)
        before = self.status if self.status in sources else sources[0]
        self.status, self.note, self.decided_at = target, note, now
        await self._log(action, before, target, by, chat, note, now)

    async def _log(
        self,
        action: str,
        from_status: str,
        to_status: str,
        by: Person | None,
        chat: str,
        note: str,
        now: datetime,
    ) -> TransferEvent:
        return await TransferEvent.create(
            transfer_id=self.id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor=by,
            chat=chat[:191],
            note=note,
            created_at=now,
        )

    async def history(self) -> list[TransferEvent]:
        return (
            await TransferEvent.filter(transfer_id=self.id)
            .select_related("actor")
            .order_by("created_at", "id")
        )


class TransferEvent(Model):
    """接转的一步：谁、在哪个会话、什么时候、做了什么、说明。"""

    id = fields.BigIntField(primary_key=True)
    transfer = fields.ForeignKeyField(
        "models.TransferRequest", related_name="events", on_delete=fields.CASCADE
    )
    action = fields.CharField(max_length=16)  # filed approve reject
    from_status = fields.CharField(max_length=16, default="")
    to_status = fields.CharField(max_length=16)
    actor = fields.ForeignKeyField(
        "models.Person", related_name="transfer_events", null=True, on_delete=fields.SET_NULL
    )
    chat = fields.CharField(max_length=191, default="")
    note = fields.TextField(default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "transfer_event"
        indexes = (("transfer_id", "created_at"),)
