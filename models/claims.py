"""自报志愿时长、积分申诉与调整：账上的每一笔改动都有经办人和理由，从不悄悄改。

* `VolunteerClaim`: `/登记时长` records a pending claim; an officer of the member's
  organisation confirms (only then a `TimeBankEntry(kind="claim")` is written, once, by
  its ref) or declines with a reason. Decisions are conditional UPDATEs (one winner).
* `PointsAppeal`: `/积分申诉` opens one; an adjustment for that person answers it.
* `adjust_points` / `adjust_hours`: `/补积分`, `/补时长` write ledger rows with the
  officer, the reason and the appeal; a negative hours adjustment never overdraws.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model

from bot.clock import local
from bot.text import fold_width
from models.activities import PointsEntry, TimeBankEntry, balance, parse_hours
from models.errors import DomainError
from models.people import Organization, Person, RoleGrant

TEXT_MAX = 200
MAX_ADJUST_POINTS = 1000


async def member_org(person_id: int) -> Organization | None:
    """The organisation a person belongs to: a member/officer grant, else local, else home."""
    grant = (
        await RoleGrant.filter(person_id=person_id, role__in=("member", "officer"))
        .filter(org_id__isnull=False)
        .select_related("org")
        .order_by("id")
        .first()
    )
    if grant is not None:
        return grant.org
    person = await Person.filter(id=person_id).select_related("local_org", "home_org").first()
    if person is None:
        return None
    return person.local_org or person.home_org


def _text(text: str, code: str) -> str:
    text = (text or "").strip()
    if not 1 <= len(text) <= TEXT_MAX:
        raise DomainError(code, limit=TEXT_MAX)
    return text


def parse_signed_hours(text: str) -> Decimal:
    """ "+2" / "-1.5" / "2小时" → a signed Decimal, not zero."""
    t = fold_width(text or "").strip()
    sign = -1 if t.startswith("-") else 1
    value = parse_hours(t.lstrip("+-"))
    if value == 0:
        raise DomainError("act_bad_hours", hours=text)
    return value * sign


def parse_signed_points(text: str) -> int:
    t = fold_width(text or "").strip().removesuffix("分").removesuffix("积分")
    body = t.lstrip("+-")
    if not body.isdigit() or not 0 < int(body) <= MAX_ADJUST_POINTS:
        raise DomainError("points_bad_adjust", points=text, limit=MAX_ADJUST_POINTS)
    return -int(body) if t.startswith("-") else int(body)


class VolunteerClaim(Model):
    """一次自报的志愿时长：待审核 → 已确认（记入时间银行）/ 未通过（写明原因）。"""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="volunteer_claims", on_delete=fields.CASCADE
    )
    org = fields.ForeignKeyField(
        "models.Organization", related_name="volunteer_claims", on_delete=fields.CASCADE
    )
    description = fields.CharField(max_length=TEXT_MAX)
    hours = fields.DecimalField(max_digits=6, decimal_places=1)
    day = fields.DateField()
    status = fields.CharField(max_length=16, default="pending")  # pending/confirmed/declined
    officer = fields.ForeignKeyField(
        "models.Person", related_name="claims_decided", null=True, on_delete=fields.SET_NULL
    )
    reason = fields.TextField(default="")
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "volunteer_claim"
        indexes = (("org_id", "status"),)

    @classmethod
    async def submit(
        cls,
        person: Person,
        description: str,
        hours: str,
        day: date | None = None,
        *,
        now: datetime,
    ) -> VolunteerClaim:
        """登记时长：说明、小时数（0.5–24）、日期（不写是今天，不能是将来）。"""
        amount = parse_hours(hours)
        if amount <= 0:
            raise DomainError("act_bad_hours", hours=hours)
        today = local(now).date()
        day = day or today
        if day > today:
            raise DomainError("claim_future_day", day=day)
        org = await member_org(person.id)
        if org is None:
            raise DomainError("claim_no_org")
        return await cls.create(
            person=person,
            org=org,
            description=_text(description, "claim_need_text"),
            hours=amount,
            day=day,
            created_at=now,
        )

    @classmethod
    async def by_number(cls, number: str) -> VolunteerClaim:
        t = fold_width(number or "").strip().lstrip("#")
        claim = (
            await cls.filter(id=int(t)).select_related("org", "person").first()
            if t.isdigit() and len(t) < 10
            else None
        )
        if claim is None:
            raise DomainError("claim_unknown", number=number)
        return claim

    def check_officer(self, caller: Any) -> None:
        if not caller.is_officer_of(self.org):
            raise DomainError("claim_not_your_scope", number=self.id, org_name=self.org.name)

    async def _decide(self, status: str, officer: Person, reason: str, now: datetime) -> None:
        won = await VolunteerClaim.filter(id=self.id, status="pending").update(
            status=status, officer_id=officer.id, reason=reason, decided_at=now
        )
        if won != 1:
            fresh = await VolunteerClaim.get(id=self.id)
            raise DomainError("claim_decided", number=self.id, status=fresh.status)
        self.status, self.reason, self.decided_at = status, reason, now

    async def confirm(self, officer: Person, *, now: datetime) -> TimeBankEntry:
        """确认：只有这时才记入时间银行（一次）。"""
        await self._decide("confirmed", officer, "", now)
        return await TimeBankEntry.create(
            person_id=self.person_id,
            org_id=self.org_id,
            hours=self.hours,
            kind="claim",
            officer=officer,
            item=self.description[:100],
            ref=f"claim:{self.id}",
            created_at=now,
        )

    async def decline(self, officer: Person, reason: str, *, now: datetime) -> VolunteerClaim:
        """不通过：要写明原因，告诉本人。"""
        await self._decide("declined", officer, _text(reason, "claim_need_reason"), now)
        return self


class PointsAppeal(Model):
    """一次积分（或时长）申诉：待处理 → 已处理（由一笔调整回应）。"""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="points_appeals", on_delete=fields.CASCADE
    )
    org = fields.ForeignKeyField(
        "models.Organization", related_name="points_appeals", on_delete=fields.CASCADE
    )
    text = fields.CharField(max_length=TEXT_MAX)
    status = fields.CharField(max_length=16, default="open")  # open / resolved
    officer = fields.ForeignKeyField(
        "models.Person", related_name="appeals_resolved", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "points_appeal"
        indexes = (("org_id", "status"),)

    @classmethod
    async def open(cls, person: Person, text: str, *, now: datetime) -> PointsAppeal:
        org = await member_org(person.id)
        if org is None:
            raise DomainError("claim_no_org")
        return await cls.create(
            person=person, org=org, text=_text(text, "appeal_need_text"), created_at=now
        )

    @classmethod
    async def open_for(cls, person_id: int) -> PointsAppeal | None:
        return await cls.filter(person_id=person_id, status="open").order_by("id").first()

    async def resolve(self, officer: Person, now: datetime) -> bool:
        return bool(
            await PointsAppeal.filter(id=self.id, status="open").update(
                status="resolved", officer_id=officer.id, resolved_at=now
            )
        )


async def _appeal_of(person: Person, officer: Person, now: datetime) -> PointsAppeal | None:
    """The person's oldest open appeal, answered by this adjustment."""
    appeal = await PointsAppeal.open_for(person.id)
    if appeal is not None and await appeal.resolve(officer, now):
        return appeal
    return None


async def adjust_points(
    person: Person,
    points: str,
    reason: str,
    officer: Person,
    *,
    org: Organization | None = None,
    now: datetime,
) -> PointsEntry:
    """补积分（±N）：一行 kind="adjust" 的积分流水，记经办人、理由和所回应的申诉。"""
    amount = parse_signed_points(points)
    reason = _text(reason, "adjust_need_reason")
    appeal = await _appeal_of(person, officer, now)
    return await PointsEntry.create(
        person_id=person.id,
        org=org,
        kind="adjust",
        points=amount,
        ref=f"adj:{uuid.uuid4().hex[:16]}",
        officer=officer,
        reason=reason,
        appeal=appeal,
        created_at=now,
    )


async def adjust_hours(
    person: Person,
    hours: str,
    reason: str,
    officer: Person,
    *,
    org: Organization | None = None,
    now: datetime,
) -> tuple[TimeBankEntry, Decimal]:
    """补时长（±H）：时间银行的一行 kind="adjust"；扣减不许扣成负数。Returns (entry, balance)."""
    amount = parse_signed_hours(hours)
    reason = _text(reason, "adjust_need_reason")
    await Person.filter(id=person.id).select_for_update().first()
    have = await balance(person.id)
    if have + amount < 0:
        raise DomainError("timebank_insufficient", name=person.name, balance=have, hours=-amount)
    appeal = await _appeal_of(person, officer, now)
    entry = await TimeBankEntry.create(
        person_id=person.id,
        org=org,
        hours=amount,
        kind="adjust",
        officer=officer,
        item=reason[:100],
        reason=reason,
        appeal=appeal,
        created_at=now,
    )
    return entry, have + amount
