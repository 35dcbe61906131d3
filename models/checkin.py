"""党员亮身份（登记）、报到 / 离开、接转组织关系，以及给党务工作者看的台账数字。

The same rules as models/requests.py: every state change is one conditional
``UPDATE … WHERE status = …`` whose row count decides who won, so two officers
confirming at once cannot both succeed. "At most one pending registration per
person", "at most one pending transfer per person" and "at most one open check-in
per (person, organisation)" are enforced by the database: a nullable unique column
(``pending_key`` / ``open_key``) holds a value only while the row is pending/open,
and both SQLite and PostgreSQL allow many NULLs under a unique constraint.

Refusals are `DomainError`s; the sentences are in templates/zh_CN/refused.j2.

Contact ("last seen"): `Person.last_seen_at` moves on any contact (models/grids/ladder.py
`record_contact`: any message, a visit to the member's household); here registering,
checking in, leaving, asking for a transfer and looking at one's own record touch it
(`touch`). Lost contact and the 失联 ladder are computed from it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.models import Model

from bot.text import fold_width, mask_phones
from models.errors import DomainError
from models.grids.ladder import record_contact
from models.people import Organization, Person, RoleGrant, orgs_under
from models.requests import local, utcnow

MEMBER_TYPES = ("full", "probationary")  # 正式党员 / 预备党员
CHECKIN_KINDS = ("flow_in", "in_service")  # 流入 / 在职党员到社区报到
# Person.relation_status: the relation letter handed in, or a 口袋党员.
RELATION_REGISTERED = "registered"
RELATION_POCKET = "unregistered"
# Person.flow_status
FLOW_IN, FLOW_OUT, IN_SERVICE = "flow_in", "flow_out", "in_service"
DEFAULT_LOST_DAYS = 90
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
NAME_MAX = 20


class OfficerLike(Protocol):
    def is_officer_of(self, org: Any) -> bool: ...


def normalize_phone(text: str) -> str:
    """An 11-digit mainland mobile number; full-width digits, spaces and dashes accepted."""
    digits = re.sub(r"[\s\-]", "", fold_width(text or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    if not PHONE_RE.match(digits):
        raise DomainError("checkin_bad_phone", phone=(text or "").strip()[:20])
    return digits


def mask_phone(phone: str | None) -> str:
    return mask_phones(phone or "")


def normalize_name(text: str) -> str:
    name = (text or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise DomainError("checkin_bad_name", limit=NAME_MAX)
    return name


async def org_by_code(code: str) -> Organization:
    code = (code or "").strip().upper()
    org = await Organization.filter(code=code).first() if code else None
    if org is None:
        raise DomainError("unknown_org", org_code=code)
    return org


async def touch(person: Person, now: datetime | None = None) -> None:
    """Remember that the person was in contact (the basis of 失联)."""
    now = now or utcnow()
    await record_contact([person.id], now, "checkin")
    person.last_seen_at = now


def _parse_number(text: str) -> int | None:
    t = fold_width(text or "").strip().lstrip("#")
    return int(t) if t.isdigit() and len(t) < 10 else None


# -- 亮身份：党员登记 ---------------------------------------------------------------
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
        indexes = (("org_id", "status"),)

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
        now: datetime | None = None,
    ) -> tuple[MemberRegistration, bool]:
        """登记；已有待确认的登记就更新它。Returns (registration, updated)."""
        now = now or utcnow()
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
        if await cls.filter(person_id=person.id, status="pending").update(**values):
            return await cls.get(person_id=person.id, status="pending").select_related(
                "org", "home_org"
            ), True
        try:
            reg = await cls.create(
                person_id=person.id,
                status="pending",
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
        number = _parse_number(text)
        reg = (
            await cls.filter(id=number).select_related("org", "home_org", "person").first()
            if number is not None
            else None
        )
        if reg is None:
            raise DomainError("checkin_reg_unknown", number=text)
        return reg

    def check_officer(self, caller: OfficerLike) -> None:
        if not caller.is_officer_of(self.org):
            raise DomainError("checkin_reg_scope", number=self.id, org_name=self.org.name)

    async def confirm(
        self, by: Person, caller: OfficerLike, *, now: datetime | None = None
    ) -> MemberRegistration:
        """确认：登记生效，登记的内容写进 Person。只有一位党务工作者能确认成功。"""
        self.check_officer(caller)
        now = now or utcnow()
        count = await MemberRegistration.filter(id=self.id, status="pending").update(
            status="confirmed", pending_key=None, decided_at=now, decided_by_id=by.id
        )
        if count != 1:
            await self._refuse("confirm")
        self.status, self.decided_at, self.decided_by_id = "confirmed", now, by.id
        await Person.filter(id=self.person_id).update(
            real_name=self.real_name,
            phone=self.phone,
            home_org_id=self.home_org_id,
            home_branch=self.home_name[:100],
            member_type=self.member_type,
            relation_status=RELATION_REGISTERED if self.relation_handed else RELATION_POCKET,
        )
        return self

    async def reject(
        self, reason: str, by: Person, caller: OfficerLike, *, now: datetime | None = None
    ) -> MemberRegistration:
        """驳回：写明原因；本人可以改好后重新 /登记。"""
        self.check_officer(caller)
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("checkin_need_reason")
        now = now or utcnow()
        count = await MemberRegistration.filter(id=self.id, status="pending").update(
            status="rejected", pending_key=None, decided_at=now, decided_by_id=by.id, reason=reason
        )
        if count != 1:
            await self._refuse("reject")
        self.status, self.reason, self.decided_at, self.decided_by_id = (
            "rejected",
            reason,
            now,
            by.id,
        )
        return self

    async def _refuse(self, action: str) -> None:
        fresh = await MemberRegistration.get(id=self.id)
        raise DomainError("checkin_reg_state", number=self.id, status=fresh.status, action=action)


# -- 报到 / 离开 ---------------------------------------------------------------------
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
        indexes = (("org_id", "checked_in_at"), ("person_id", "checked_in_at"))

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
        now: datetime | None = None,
    ) -> CheckIn:
        """报到。已在这里报到过：拒绝，什么也不改（唯一约束兜底并发）。"""
        if kind not in CHECKIN_KINDS:
            kind = FLOW_IN
        await check_member(person)
        now = now or utcnow()
        key = f"{person.id}:{org.id}"
        existing = await cls.filter(open_key=key).first()
        if existing is not None:
            raise DomainError(
                "checkin_already",
                org_name=org.name,
                since=local(existing.checked_in_at).strftime("%Y-%m-%d %H:%M"),
                kind=kind,
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
                "checkin_already",
                org_name=org.name,
                since=local(now).strftime("%Y-%m-%d %H:%M"),
                kind=kind,
            ) from None
        await Person.filter(id=person.id).update(
            local_org_id=org.id, flow_status=IN_SERVICE if kind == IN_SERVICE else FLOW_IN
        )
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
        now: datetime | None = None,
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

    async def leave(self, destination: str, *, now: datetime | None = None) -> CheckIn:
        now = now or utcnow()
        count = await CheckIn.filter(id=self.id, left_at__isnull=True).update(
            left_at=now, destination=destination[:100], open_key=None
        )
        if count != 1:
            raise DomainError("checkin_not_in")
        self.left_at, self.destination, self.open_key = now, destination[:100], None
        still = await CheckIn.filter(person_id=self.person_id, left_at__isnull=True).first()
        await Person.filter(id=self.person_id).update(
            local_org_id=still.org_id if still else None,
            flow_status=(still.kind if still else FLOW_OUT),
        )
        await record_contact([self.person_id], now, "checkin")
        return self


# -- 接转组织关系 --------------------------------------------------------------------
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
        now: datetime | None = None,
    ) -> TransferRequest:
        now = now or utcnow()
        to_text = "" if to_org else (to_text or "").strip()[:100]
        if to_org is None and not to_text:
            raise DomainError("checkin_need_destination")
        if to_org is not None and to_org.id == from_org.id:
            raise DomainError("transfer_same_org", org_name=from_org.name)
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
                pending_key=str(person.id),
                reply_target=reply_target[:191],
                created_at=now,
            )
        except IntegrityError:
            raise DomainError("transfer_pending_exists") from None
        # As by_number loads it: the notice names the person (checkin_notice.j2).
        tr.person, tr.from_org, tr.to_org = person, from_org, to_org
        await tr._log("filed", "", "pending", person, chat, tr.reason, now)
        await touch(person, now)
        return tr

    @classmethod
    async def by_number(cls, text: str) -> TransferRequest:
        number = _parse_number(text)
        tr = (
            await cls.filter(id=number).select_related("from_org", "to_org", "person").first()
            if number is not None
            else None
        )
        if tr is None:
            raise DomainError("transfer_unknown", number=text)
        return tr

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
        now: datetime | None = None,
    ) -> TransferRequest:
        self.check_sender(caller)
        now = now or utcnow()
        await self._move("approve", "approved", by, chat, (note or "").strip(), now)
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
        now: datetime | None = None,
    ) -> TransferRequest:
        self.check_sender(caller)
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("checkin_need_reason")
        await self._move("reject", "rejected", by, chat, reason, now or utcnow())
        return self

    async def _move(
        self, action: str, target: str, by: Person, chat: str, note: str, now: datetime
    ) -> None:
        count = await TransferRequest.filter(id=self.id, status="pending").update(
            status=target, pending_key=None, decided_at=now, note=note
        )
        if count != 1:
            fresh = await TransferRequest.get(id=self.id)
            raise DomainError("transfer_state", number=self.id, status=fresh.status, action=action)
        self.status, self.note, self.decided_at = target, note, now
        await self._log(action, "pending", target, by, chat, note, now)

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


# -- what officers see ---------------------------------------------------------------
async def check_member(person: Person) -> None:
    """报到 is for party members: a confirmed registration, or the member role granted by an
    operator (officers and admins count). Anyone else is offered /登记."""
    members = Person.filter(
        id=person.id, relation_status__in=(RELATION_REGISTERED, RELATION_POCKET)
    )
    if await members.exists():  # as stored: a confirmation may be newer than `person`
        return
    if await RoleGrant.filter(
        person_id=person.id, role__in=("member", "officer", "admin")
    ).exists():
        return
    pending = await MemberRegistration.filter(person_id=person.id, status="pending").exists()
    raise DomainError("checkin_not_member", pending=pending)


def scope_q(paths: list[str]) -> Q:
    """People whose home branch or current local organisation is under one of `paths`, and
    those whose branch is outside the system and whose registration an organisation under
    them confirmed (they stay its members wherever they check in)."""
    orgs = orgs_under(paths)
    outside = MemberRegistration.filter(status="confirmed", home_org_id=None, org_id__in=orgs)
    return (
        Q(home_org_id__in=orgs)
        | Q(local_org_id__in=orgs)
        | Q(id__in=Subquery(outside.values("person_id")))
    )


def covers(caller: OfficerLike, person: Person) -> bool:
    """Whether the caller is an officer over this person (home branch or local org)."""
    orgs = [o for o in (person.home_org, person.local_org) if o is not None]
    return any(caller.is_officer_of(o) for o in orgs)


def shown_phone(caller: OfficerLike, person: Person, phone: str | None = None) -> str:
    phone = person.phone if phone is None else phone
    return (phone or "") if covers(caller, person) else mask_phone(phone)


async def members(paths: list[str]) -> list[Person]:
    """Registered (confirmed) members in scope."""
    return (
        await Person.filter(
            scope_q(paths), relation_status__in=(RELATION_REGISTERED, RELATION_POCKET)
        )
        .select_related("home_org", "local_org")
        .order_by("id")
    )


def lost_q(paths: list[str], days: int = DEFAULT_LOST_DAYS, now: datetime | None = None) -> Q:
    """Members in scope not seen (registration, check-in, leave, transfer, /我的信息)
    for `days`."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    return (
        scope_q(paths)
        & (Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff))
        & Q(relation_status__in=(RELATION_REGISTERED, RELATION_POCKET))
    )


async def lost_contact(
    paths: list[str], days: int = DEFAULT_LOST_DAYS, now: datetime | None = None
) -> list[Person]:
    """Members not seen (registration, check-in, leave, transfer, /我的信息) for `days`."""
    return (
        await Person.filter(lost_q(paths, days, now))
        .select_related("home_org", "local_org")
        .order_by("id")
    )


async def lost_contact_names(
    paths: list[str], days: int = DEFAULT_LOST_DAYS, now: datetime | None = None
) -> list[tuple[int, str]]:
    """(id, name) of the same people, without loading whole rows (a district's thousands
    for the monthly reminder)."""
    rows = (
        await Person.filter(lost_q(paths, days, now))
        .order_by("id")
        .values_list("id", "real_name", "display_name", "phone")
    )
    return [(pid, Person.name_of(pid, real, shown, phone)) for pid, real, shown, phone in rows]


async def find_people(paths: list[str], query: str) -> list[Person]:
    """By name (part of it) or by the last digits of the mobile number."""
    query = fold_width(query or "").strip()
    if not query:
        return []
    q = Q(phone__endswith=query) if query.isdigit() else Q(real_name__contains=query)
    return (
        await Person.filter(scope_q(paths), q)
        .select_related("home_org", "local_org")
        .order_by("id")
        .limit(20)
    )


async def summary(
    paths: list[str], days: int = DEFAULT_LOST_DAYS, now: datetime | None = None
) -> dict[str, int]:
    """registered · pocket · flowing in (open check-ins) · flowing out · lost contact.

    Counted by the database (one query for the people, three for the check-ins), so a
    district's 50,000 members are never loaded."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    lost = Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff)
    people = (
        await Person.filter(
            scope_q(paths), relation_status__in=(RELATION_REGISTERED, RELATION_POCKET)
        )
        .annotate(
            registered=Count("id"),
            pocket=Count("id", _filter=Q(relation_status=RELATION_POCKET)),
            lost=Count("id", _filter=lost),
        )
        .values("registered", "pocket", "lost")
    )[0]
    here = CheckIn.filter(org_id__in=orgs_under(paths))
    open_rows = here.filter(left_at__isnull=True)
    left = here.filter(left_at__isnull=False).exclude(
        person_id__in=Subquery(open_rows.values("person_id"))
    )
    return {
        "registered": people["registered"],
        "pocket": people["pocket"] or 0,
        "flow_in": await _distinct_people(open_rows.filter(kind=FLOW_IN)),
        "in_service": await _distinct_people(open_rows.filter(kind=IN_SERVICE)),
        "flow_out": await _distinct_people(left),
        "lost": people["lost"] or 0,
    }


async def _distinct_people(query: Any) -> int:
    rows = await query.annotate(n=Count("person_id", distinct=True)).values("n")
    return rows[0]["n"] if rows else 0


async def erase_person(person: Person) -> None:
    """删除我的信息：清空个人字段；登记、报到、接转的记录留下，但不再带姓名和电话。"""
    await Person.filter(id=person.id).update(
        display_name="",
        real_name=None,
        phone=None,
        home_branch="",
        member_type="",
        relation_status="",
        flow_status="",
        home_org_id=None,
        local_org_id=None,
    )
    await MemberRegistration.filter(person_id=person.id).update(
        real_name="", phone="", home_text="", pending_key=None
    )
    await MemberRegistration.filter(person_id=person.id, status="pending").update(
        status="withdrawn"
    )
    await TransferRequest.filter(person_id=person.id).update(reason="", reply_target="")
    await MemberRegistration.filter(person_id=person.id).update(reply_target="")
