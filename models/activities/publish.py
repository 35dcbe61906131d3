"""活动本身：发布、修改、取消、谁能看和报名、到场数字。

Its sign-up side is `Seats` (signup.py), its on-site side `Attending` (attend.py); the
checks of the values are `checked_values` (rules.py). Each state change is a conditional
``UPDATE`` whose row count decides who won.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from tortoise import fields
from tortoise.models import Model

from models.activities.attend import Attending
from models.activities.rules import (
    ACTIVE,
    EDITABLE,
    MEMBER_ROLES,
    PLACE_MAX,
    checked_values,
    parse_number,
)
from models.activities.signup import Seats, Signup
from models.errors import DomainError
from models.people import Organization, Person, RoleGrant


class CallerLike(Protocol):
    """What the rules need to know about the asker (bot.identity.Caller)."""

    roles: Any

    def is_officer_of(self, org: Any) -> bool: ...

    def has_role(self, role: str) -> bool: ...


class Placed(Protocol):
    """An organisation as the rules below read it: by its path alone."""

    @property
    def path(self) -> str: ...


def members_of(caller: CallerLike, org: Placed) -> bool:
    """The caller holds a role (member or officer) somewhere in `org`'s subtree."""
    return any(
        r.role in MEMBER_ROLES and r.org is not None and r.org.path.startswith(org.path)
        for r in caller.roles
    )


def open_to(caller: CallerLike, audience: str, org: Placed) -> bool:
    """May join an activity of `org` for `audience`: "org" = the publishing organisation's
    subtree, "members" = any member, "everyone" = residents too. Officers of its scope
    always may."""
    if caller.is_officer_of(org):
        return True
    if audience == "everyone":
        return True
    if audience == "members":
        return caller.has_role("member")
    return members_of(caller, org)


def need_org(org: Organization | None) -> Organization:
    """The organisation an officer acts for (Ctx.acting_org), or the refusal that they
    hold none (an admin publishing, keeping a catalogue or adjusting a ledger)."""
    if org is None:
        raise DomainError("act_need_org")
    return org


class Activity(Seats, Attending, Model):
    """一项组织生活（三会一课、主题党日、志愿服务、开放活动）。编号就是 id。"""

    id = fields.IntField(primary_key=True)
    org = fields.ForeignKeyField(
        "models.Organization", related_name="activities", on_delete=fields.RESTRICT
    )
    created_by = fields.ForeignKeyField(
        "models.Person", related_name="published_activities", null=True, on_delete=fields.SET_NULL
    )
    title = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=16, default="other")
    starts_at = fields.DatetimeField(db_index=True)
    ends_at = fields.DatetimeField()
    place = fields.CharField(max_length=200, default="")
    capacity = fields.IntField(default=0)  # 0 = unlimited
    audience = fields.CharField(max_length=16, default="org")
    volunteer_hours = fields.DecimalField(max_digits=6, decimal_places=1, default=Decimal("0"))
    signup_deadline = fields.DatetimeField()
    status = fields.CharField(max_length=16, default="open", db_index=True)  # open / cancelled
    cancel_reason = fields.TextField(default="")
    confirmed_count = fields.IntField(default=0)
    # The on-site 签到 code (the column keeps its first name).
    checkin_code = fields.CharField(max_length=8, null=True)
    # Where it was published ("console:g1"): the attendance summary goes to the publisher.
    reply_target = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "activity"
        indexes = (("org_id", "starts_at"),)

    @property
    def number(self) -> int:
        return self.id

    @property
    def seats_left(self) -> int | None:
        """None when unlimited."""
        if self.capacity == 0:
            return None
        return max(self.capacity - self.confirmed_count, 0)

    # -- publishing --------------------------------------------------------------
    @classmethod
    async def publish(
        cls,
        org: Organization,
        by: Person | None,
        *,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        now: datetime,
        kind: str = "other",
        place: str = "",
        capacity: int = 0,
        audience: str = "org",
        volunteer_hours: Decimal | str | int = Decimal("0"),
        signup_deadline: datetime | None = None,
        reply_target: str = "",
    ) -> Activity:
        """发布活动：检查标题、时间、名额、对象、时长、截止时间后建一条。"""
        values = checked_values(
            now,
            title=(title or "").strip(),
            kind=kind,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            audience=audience,
            volunteer_hours=volunteer_hours,
            signup_deadline=signup_deadline or starts_at,
        )
        return await cls.create(
            org=org,
            created_by=by,
            place=(place or "").strip()[:PLACE_MAX],
            reply_target=reply_target[:191],
            created_at=now,
            updated_at=now,
            **values,
        )

    @staticmethod
    def validate(now: datetime, **values: Any) -> dict[str, Any]:
        """Check some values of an activity (as publish and revise do) before asking for
        the rest: the publish dialog checks each answer as it comes."""
        return checked_values(now, **values)

    @classmethod
    async def by_number(cls, text: str | int) -> Activity:
        n = text if isinstance(text, int) else parse_number(text)
        act = await cls.filter(id=n).select_related("org", "created_by").first() if n else None
        if act is None:
            raise DomainError("act_unknown", number=str(text).strip())
        return act

    # -- who -----------------------------------------------------------------------
    def check_officer(self, caller: CallerLike) -> None:
        if not caller.is_officer_of(self.org):
            raise DomainError("act_not_your_scope", number=self.id, org_name=self.org.name)

    def open_to(self, caller: CallerLike) -> bool:
        return open_to(caller, self.audience, self.org)

    def check_visible(self, caller: CallerLike) -> None:
        if not self.open_to(caller):
            raise DomainError("act_not_visible", number=self.id)

    # -- officers: change, cancel ------------------------------------------------------
    async def revise(
        self, by: Person, *, now: datetime, confirm_hours: float = 12.0, **changes: Any
    ) -> list[Signup]:
        """修改活动（标题、时间、地点、名额、对象、时长、截止）；扩容时递补候补。

        Returns the sign-ups promoted by a larger capacity."""
        await self.lock()
        if self.status == "cancelled":
            raise DomainError("act_cancelled", number=self.id, title=self.title)
        if now >= self.ends_at:
            raise DomainError("act_ended", number=self.id)
        unknown = set(changes) - set(EDITABLE)
        assert not unknown, unknown
        if "place" in changes:
            changes["place"] = (changes["place"] or "").strip()[:PLACE_MAX]
        if "title" in changes:
            changes["title"] = (changes["title"] or "").strip()
        check = dict(changes)
        if "starts_at" in changes or "ends_at" in changes:
            check.setdefault("starts_at", self.starts_at)
            check.setdefault("ends_at", self.ends_at)
            if "signup_deadline" not in changes and self.signup_deadline > check["starts_at"]:
                changes["signup_deadline"] = check["starts_at"]
        if "signup_deadline" in changes:
            check.setdefault("starts_at", self.starts_at)
            check["signup_deadline"] = changes["signup_deadline"]
        values = checked_values(now, **check)
        if "capacity" in changes:
            cap = values["capacity"]
            if cap != 0 and cap < self.confirmed_count:
                raise DomainError(
                    "act_capacity_below", number=self.id, confirmed=self.confirmed_count
                )
        update = {k: values.get(k, changes[k]) for k in changes}
        count = await Activity.filter(id=self.id, status="open").update(updated_at=now, **update)
        if count != 1:
            raise DomainError("act_cancelled", number=self.id, title=self.title)
        for key, value in update.items():
            setattr(self, key, value)
        return await self.promote(now, confirm_hours) if "capacity" in update else []

    async def cancel(self, reason: str, by: Person, *, now: datetime) -> list[Signup]:
        """取消活动（写明原因）；返回要通知的报名（已确认和候补的）。"""
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("act_need_reason", number=self.id)
        count = await Activity.filter(id=self.id, status="open").update(
            status="cancelled", cancel_reason=reason[:500], cancelled_at=now, updated_at=now
        )
        if count != 1:
            raise DomainError("act_cancelled", number=self.id, title=self.title)
        self.status, self.cancel_reason, self.cancelled_at = "cancelled", reason[:500], now
        return await Signup.filter(activity_id=self.id, status__in=ACTIVE).order_by("id")

    # -- reading -------------------------------------------------------------------------
    async def figures(self) -> dict[str, int]:
        """Sign-ups and attendance; members and residents (群众) counted apart, and a
        cancellation just before the start (late_cancel) counted as an absence."""
        rows = await Signup.filter(activity_id=self.id).values_list(
            "status", "attended_at", "walk_in", "person_id", "late_cancel"
        )
        came = {p for _, a, _, p, _ in rows if a is not None}
        members = set(
            await RoleGrant.filter(person_id__in=came, role__in=MEMBER_ROLES).values_list(
                "person_id", flat=True
            )
        )
        return {
            "confirmed": sum(1 for r in rows if r[0] == "confirmed"),
            "offered": sum(1 for r in rows if r[0] == "offered"),
            "waitlisted": sum(1 for r in rows if r[0] == "waitlisted"),
            "attended": len(came),
            "attended_members": len(came & members),
            "attended_residents": len(came - members),
            "walk_ins": sum(1 for _, a, w, _, _ in rows if a is not None and w),
            "late_cancels": sum(1 for r in rows if r[0] == "cancelled" and r[4]),
        }

    async def roster(self) -> list[Signup]:
        """Active sign-ups with their people, confirmed first, each in arrival order."""
        rows = (
            await Signup.filter(activity_id=self.id, status__in=ACTIVE)
            .select_related("person")
            .order_by("id")
        )
        return [s for s in rows if s.status == "confirmed"] + [
            s for s in rows if s.status == "waitlisted"
        ]
