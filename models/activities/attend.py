"""现场签到：签到码、输错锁定、现场报名、记时长和积分。

The code and the wrong-code count live in the database (``CheckinAttempt``, its table
named before 签到 was called attend here), so several processes and a restart agree.
The arithmetic (the window, the lock-out, the walk-in decision, points) is in
models/activities/rules.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from bot.text import fold_width
from models.activities.rules import (
    CODE_OPEN_MINUTES,
    MEMBER_ROLES,
    LockOut,
    attendance_points,
    check_attend_window,
    is_walk_in,
)
from models.activities.signup import Signup
from models.activities.timebank import TimeBankEntry, award_points
from models.errors import DomainError
from models.people import RoleGrant

if TYPE_CHECKING:
    from models.activities.publish import Activity, CallerLike
    from models.people import Person


class CheckinAttempt(Model):
    """某人对某活动签到码的错误次数与锁定时间（存库，多进程、重启都算数）。"""

    id = fields.IntField(primary_key=True)
    activity = fields.ForeignKeyField(
        "models.Activity", related_name="checkin_attempts", on_delete=fields.CASCADE
    )
    person = fields.ForeignKeyField(
        "models.Person", related_name="checkin_attempts", on_delete=fields.CASCADE
    )
    failures = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "activity_checkin_attempt"
        unique_together = (("activity", "person"),)


@dataclass
class Attendance:
    """What one /签到 did."""

    signup: Signup | None
    walk_in: bool = False
    hours: Decimal = Decimal("0")
    points: int = 0
    wrong_code: bool = False
    attempts_left: int = 0
    locked_until: datetime | None = None


class Attending:
    """The on-site side of `Activity`: its code and attendance."""

    id: int
    org_id: int
    title: str
    status: str
    audience: str
    capacity: int
    starts_at: datetime
    ends_at: datetime
    volunteer_hours: Decimal
    checkin_code: str | None

    if TYPE_CHECKING:

        def open_to(self, caller: CallerLike) -> bool: ...

        async def lock(self) -> Activity: ...

        async def take_seat(self) -> bool: ...

    def check_window(self, now: datetime, open_minutes: int = CODE_OPEN_MINUTES) -> None:
        check_attend_window(
            self.id, self.status, self.starts_at, self.ends_at, now, open_minutes, title=self.title
        )

    async def issue_code(self, *, now: datetime, open_minutes: int = CODE_OPEN_MINUTES) -> str:
        """签到码：开始前 open_minutes 分钟到结束有效；同一活动只有一个码。"""
        self.check_window(now, open_minutes)
        if self.checkin_code is None:
            cls: Any = type(self)
            code = f"{secrets.randbelow(10000):04d}"
            await cls.filter(id=self.id, checkin_code__isnull=True).update(checkin_code=code)
            self.checkin_code = (await cls.get(id=self.id)).checkin_code
        assert self.checkin_code is not None
        return self.checkin_code

    async def attend(
        self,
        person: Person,
        caller: CallerLike,
        code: str,
        *,
        now: datetime,
        open_minutes: int = CODE_OPEN_MINUTES,
        lock_attempts: int = 5,
        lock_minutes: int = 10,
        points_attendance: int = 0,
        points_per_hour: int = 0,
        reply_target: str = "",
    ) -> Attendance:
        """凭签到码签到。报了名的记到场；没报名的有名额就现场报名。

        A wrong code is counted, not raised (the caller must commit the count); after
        `lock_attempts` wrong codes the person is locked out for `lock_minutes`."""
        await self.lock()
        self.check_window(now, open_minutes)
        attempt, _ = await CheckinAttempt.get_or_create(
            activity_id=self.id, person_id=person.id, defaults={"updated_at": now}
        )
        lockout = LockOut(attempt.failures, attempt.locked_until)
        if lockout.locked(now):
            raise DomainError("act_code_locked", number=self.id, until=attempt.locked_until)
        if self.checkin_code is None:
            raise DomainError("act_code_not_issued", number=self.id)
        if fold_width(code or "").strip() != self.checkin_code:
            lockout = lockout.wrong(now, lock_attempts, lock_minutes)
            await CheckinAttempt.filter(id=attempt.id).update(
                failures=lockout.failures, locked_until=lockout.locked_until, updated_at=now
            )
            return Attendance(
                None,
                wrong_code=True,
                attempts_left=lockout.attempts_left(lock_attempts),
                locked_until=lockout.locked_until,
            )
        if not lockout.clean:
            await CheckinAttempt.filter(id=attempt.id).update(
                failures=0, locked_until=None, updated_at=now
            )
        mine = await self._seat_for(person, caller, now, reply_target)
        hours = Decimal(self.volunteer_hours or 0)
        credited = Decimal("0")
        if hours > 0 and await TimeBankEntry.credit(person.id, self, hours, now=now):
            credited = hours
        # 群众 may join open activities; points (先锋指数) are for members only.
        member = await RoleGrant.filter(person_id=person.id, role__in=MEMBER_ROLES).exists()
        due = attendance_points(member, hours, points_attendance, points_per_hour)
        points = 0
        for kind, amount in zip(("attendance", "volunteer"), due, strict=True):
            ref = f"act:{self.id}"
            if amount and await award_points(
                person.id, kind, amount, ref, org_id=self.org_id, now=now
            ):
                points += amount
        return Attendance(mine, walk_in=mine.walk_in, hours=credited, points=points)

    async def _seat_for(
        self, person: Person, caller: CallerLike, now: datetime, reply_target: str
    ) -> Signup:
        """Mark the person's sign-up attended, or sign them up on the spot (a walk-in:
        not signed up, or still waitlisted) when a seat is free."""
        mine = await Signup.active_of(self.id, person.id)
        if mine is not None and mine.attended_at is not None:
            raise DomainError("act_already_attended", number=self.id, at=mine.attended_at)
        walk_in = is_walk_in(mine.status if mine else None)
        if walk_in:
            if mine is None and not self.open_to(caller):
                raise DomainError("act_not_open_to", number=self.id, audience=self.audience)
            if not await self.take_seat():
                raise DomainError("act_full_no_walkin", number=self.id, capacity=self.capacity)
        if mine is None:
            return await Signup.create(
                activity_id=self.id,
                person_id=person.id,
                status="confirmed",
                active_key=f"{self.id}:{person.id}",
                walk_in=True,
                attended_at=now,
                reply_target=reply_target[:191],
                created_at=now,
                updated_at=now,
            )
        count = await Signup.filter(id=mine.id, attended_at__isnull=True).update(
            status="confirmed", walk_in=walk_in, attended_at=now, updated_at=now
        )
        if count != 1:
            raise DomainError("act_already_attended", number=self.id, at=now)
        mine.status, mine.walk_in, mine.attended_at = "confirmed", walk_in, now
        return mine
