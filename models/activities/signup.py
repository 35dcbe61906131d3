"""报名、候补、取消报名、递补：名额是活动行上的计数，用条件 UPDATE 抢。

* Seats: ``UPDATE activity SET confirmed_count = confirmed_count + 1 WHERE id = ? AND
  (capacity = 0 OR confirmed_count < capacity)`` — one row: confirmed, none: waitlisted.
  Sign-ups of one activity are serialised on its row (``SELECT … FOR UPDATE`` on
  PostgreSQL; SQLite write transactions begin IMMEDIATE, bot/db.py), so the waitlist is
  in arrival order (the sign-up's id).
* One active sign-up per (activity, person): ``Signup.active_key`` holds
  "activity:person" while confirmed or waitlisted and NULL after (unique; many NULLs).
* A cancellation frees the seat and promotes the first on the waitlist in the same
  transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.activities.rules import ACTIVE, SEATED, is_late_cancel, offer_deadline
from models.errors import DomainError

if TYPE_CHECKING:
    from models.activities.publish import Activity, CallerLike
    from models.people import Person


class Signup(Model):
    """一次报名：确认 / 候补 / 已取消；签到时记到场时间。id 即到达顺序。"""

    id = fields.IntField(primary_key=True)
    activity = fields.ForeignKeyField(
        "models.Activity", related_name="signups", on_delete=fields.CASCADE
    )
    person = fields.ForeignKeyField(
        "models.Person", related_name="signups", on_delete=fields.CASCADE
    )
    status = fields.CharField(max_length=16)  # confirmed / waitlisted / cancelled
    # "activity:person" while confirmed or waitlisted, NULL after: one active sign-up each.
    active_key = fields.CharField(max_length=32, null=True, unique=True)
    walk_in = fields.BooleanField(default=False)
    attended_at = fields.DatetimeField(null=True)
    reply_target = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    promoted_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    offer_expires_at = fields.DatetimeField(null=True)  # offered: confirm by then
    # cancelled just before the start
    late_cancel = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "activity_signup"
        indexes = (("activity_id", "status"), ("person_id", "created_at"))

    async def position(self) -> int:
        """Place on the waitlist (1 = next to be promoted); 0 when not waitlisted."""
        if self.status != "waitlisted":
            return 0
        return await Signup.filter(
            activity_id=self.activity_id, status="waitlisted", id__lte=self.id
        ).count()

    @classmethod
    async def active_of(cls, activity_id: int, person_id: int | None) -> Signup | None:
        """The person's confirmed, offered or waitlisted sign-up (None for nobody)."""
        if person_id is None:
            return None
        return await cls.filter(
            activity_id=activity_id, person_id=person_id, status__in=ACTIVE
        ).first()

    @classmethod
    async def upcoming_of(cls, person_id: int, now: datetime) -> list[Signup]:
        """/我的活动: the active sign-ups of activities not ended, not attended yet."""
        return (
            await cls.filter(
                person_id=person_id,
                status__in=ACTIVE,
                activity__ends_at__gt=now,
                attended_at__isnull=True,
            )
            .select_related("activity")
            .order_by("activity__starts_at", "id")
        )

    @classmethod
    async def attended_by(cls, person_id: int, limit: int = 5) -> list[Signup]:
        return (
            await cls.filter(person_id=person_id, attended_at__isnull=False)
            .select_related("activity")
            .order_by("-attended_at")
            .limit(limit)
        )


class Seats:
    """The sign-up side of `Activity` (its row lock, seat counter, waitlist)."""

    id: int
    title: str
    status: str
    audience: str
    capacity: int
    confirmed_count: int
    starts_at: datetime
    signup_deadline: datetime

    if TYPE_CHECKING:

        def open_to(self, caller: CallerLike) -> bool: ...

    async def lock(self) -> Activity:
        """Re-read this activity holding its row (PostgreSQL) for the rest of the transaction."""
        cls = type(self)
        fresh = await cls.filter(id=self.id).select_for_update().first()  # type: ignore[attr-defined]
        assert fresh is not None
        for name in ("status", "capacity", "confirmed_count", "starts_at", "ends_at"):
            setattr(self, name, getattr(fresh, name))
        for name in ("signup_deadline", "checkin_code", "audience", "volunteer_hours"):
            setattr(self, name, getattr(fresh, name))
        return self  # type: ignore[return-value]

    async def take_seat(self) -> bool:
        cls: Any = type(self)
        won = await cls.filter(
            Q(id=self.id), Q(capacity=0) | Q(confirmed_count__lt=F("capacity"))
        ).update(confirmed_count=F("confirmed_count") + 1)
        if won:
            self.confirmed_count += 1
        return bool(won == 1)

    async def free_seat(self) -> None:
        cls: Any = type(self)
        if await cls.filter(id=self.id, confirmed_count__gt=0).update(
            confirmed_count=F("confirmed_count") - 1
        ):
            self.confirmed_count -= 1

    async def join(
        self, person: Person, caller: CallerLike, *, now: datetime, reply_target: str = ""
    ) -> Signup:
        """报名：有名额就确认，没有就候补（按先来后到）。"""
        await self.lock()
        if self.status == "cancelled":
            raise DomainError("act_cancelled", number=self.id, title=self.title)
        if now >= self.starts_at:
            raise DomainError("act_started", number=self.id, title=self.title)
        if now > self.signup_deadline:
            raise DomainError("act_deadline_passed", number=self.id, deadline=self.signup_deadline)
        if not self.open_to(caller):
            raise DomainError("act_not_open_to", number=self.id, audience=self.audience)
        mine = await Signup.active_of(self.id, person.id)
        if mine is not None:
            raise DomainError(
                "act_already_signed",
                number=self.id,
                status=mine.status,
                position=await mine.position() if mine.status == "waitlisted" else 0,
            )
        confirmed = await self.take_seat()
        try:
            async with in_transaction():
                return await Signup.create(
                    activity_id=self.id,
                    person_id=person.id,
                    status="confirmed" if confirmed else "waitlisted",
                    active_key=f"{self.id}:{person.id}",
                    reply_target=reply_target[:191],
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:  # the same person twice at once: the other one won
            raise DomainError("act_already_signed", number=self.id, status="", position=0) from None

    async def leave(
        self,
        person: Person,
        *,
        now: datetime,
        confirm_hours: float = 12.0,
        late_cancel_hours: float = 0.0,
    ) -> list[Signup]:
        """取消报名。释放的名额给候补的第一位；返回被递补的报名（要通知他们）。
        开始前 `late_cancel_hours` 内取消的，到场统计里算缺席。"""
        await self.lock()
        mine = await Signup.active_of(self.id, person.id)
        if mine is None:
            raise DomainError("act_not_signed", number=self.id)
        if mine.attended_at is not None:
            raise DomainError("act_already_attended", number=self.id, at=mine.attended_at)
        if now >= self.starts_at and self.status == "open":
            raise DomainError("act_started", number=self.id, title=self.title)
        late = mine.status == "confirmed" and is_late_cancel(now, self.starts_at, late_cancel_hours)
        count = await Signup.filter(id=mine.id, status__in=ACTIVE).update(
            status="cancelled", active_key=None, cancelled_at=now, updated_at=now, late_cancel=late
        )
        if count != 1:
            raise DomainError("act_not_signed", number=self.id)
        if mine.status in SEATED:
            await self.free_seat()
        mine.status = "cancelled"
        return await self.promote(now, confirm_hours) if self.status == "open" else []

    async def promote(self, now: datetime, confirm_hours: float = 12.0) -> list[Signup]:
        """Offer free seats to the waitlist, first come first served; each must confirm
        (/确认参加) by the deadline of models/waitlist.py."""
        deadline = offer_deadline(now, self.starts_at, confirm_hours)
        promoted: list[Signup] = []
        while True:
            first = (
                await Signup.filter(activity_id=self.id, status="waitlisted").order_by("id").first()
            )
            if first is None or not await self.take_seat():
                return promoted
            if await Signup.filter(id=first.id, status="waitlisted").update(
                status="offered", promoted_at=now, offer_expires_at=deadline, updated_at=now
            ):
                first.status = "offered"
                first.promoted_at, first.offer_expires_at = now, deadline
                promoted.append(first)
            else:
                await self.free_seat()

    async def active_signups(self, *, excluding: Sequence[Signup] = ()) -> list[Signup]:
        """The confirmed, offered and waitlisted sign-ups (those a change is told to)."""
        left_out = {s.id for s in excluding}
        rows = await Signup.filter(activity_id=self.id, status__in=ACTIVE).order_by("id")
        return [s for s in rows if s.id not in left_out]
