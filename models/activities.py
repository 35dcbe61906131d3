"""组织生活菜单：活动发布、报名 / 候补、现场签到、时间银行、积分与三会一课。

The rules follow models/requests.py: each state change is a conditional ``UPDATE``
whose row count decides who won, so concurrent callers have one winner on SQLite
and PostgreSQL alike.

* Seats: ``UPDATE activity SET confirmed_count = confirmed_count + 1 WHERE id = ? AND
  (capacity = 0 OR confirmed_count < capacity)`` — one row: confirmed, none: waitlisted.
  Sign-ups of one activity are serialised on its row (``SELECT … FOR UPDATE`` on
  PostgreSQL; SQLite write transactions begin IMMEDIATE, bot/db.py), so the waitlist is
  in arrival order (the sign-up's id).
* One active sign-up per (activity, person): ``Signup.active_key`` holds
  "activity:person" while confirmed or waitlisted and NULL after (unique; many NULLs).
* A cancellation frees the seat and promotes the first on the waitlist in the same
  transaction.
* Check-in codes and the wrong-code lock-out live in the database (``CheckinAttempt``).
* Time bank and points are ledgers: a balance is always the SUM of the rows. Credits
  carry a unique ``ref`` and points a unique (person, kind, ref), so each attendance or
  lesson counts once. A redemption locks the person, then checks the SUM.

Refusals are `DomainError`s; the sentences are in templates/zh_CN/refused.j2.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Sum
from tortoise.models import Model
from tortoise.transactions import in_transaction

from bot.clock import zone
from bot.text import fold_width
from models.errors import DomainError
from models.people import Organization, Person, RoleGrant, orgs_under
from models.requests import local, month_range, utcnow

# 支部党员大会 · 支委会 · 党小组会 · 党课 · 主题党日 · 志愿服务 · 开放活动 · 其他
KINDS = (
    "general_meeting",
    "committee",
    "group_meeting",
    "lecture",
    "theme_day",
    "volunteer",
    "open",
    "other",
)
# 三会一课: what each branch must hold, and how often.
REQUIRED_MEETINGS = (
    ("general_meeting", "quarter"),
    ("committee", "month"),
    ("group_meeting", "month"),
    ("lecture", "quarter"),
)
# Who may join: members of the publishing organisation's subtree / any member / anyone.
AUDIENCES = ("org", "members", "everyone")
# Party life (三会一课, 主题党日): for the branch's members whoever else is in the group.
PARTY_LIFE = ("general_meeting", "committee", "group_meeting", "lecture", "theme_day")


def default_audience(kind: str, community_group: bool) -> str:
    """Who may join when the publisher does not say. Published in a group bound to the
    community, an activity is for everyone the community serves (residents too), except
    party life, which is the branch's; elsewhere only 开放活动 are for everyone."""
    if kind in PARTY_LIFE:
        return "org"
    return "everyone" if community_group or kind == "open" else "org"


# offered = promoted from the waitlist, holding the seat until confirmed (models/waitlist.py)
ACTIVE = ("confirmed", "waitlisted", "offered")
SEATED = ("confirmed", "offered")
MEMBER_ROLES = ("member", "officer")
# adjust = /补积分 by an officer with a reason; redeem = a catalogue item (models/redemption.py)
POINT_KINDS = ("attendance", "volunteer", "lesson", "adjust", "redeem")
CODE_OPEN_MINUTES = 30
TITLE_MAX = 60
MAX_HOURS = Decimal("24")
MAX_CAPACITY = 10000


class CallerLike(Protocol):
    """What the rules need to know about the asker (bot.identity.Caller)."""

    roles: Any

    def is_officer_of(self, org: Any) -> bool: ...

    def has_role(self, role: str) -> bool: ...


def parse_number(text: str) -> int | None:
    t = fold_width(text or "").strip().lstrip("#").removeprefix("活动")
    return int(t) if t.isdigit() and len(t) < 10 else None


def parse_hours(text: str | Decimal | int | float) -> Decimal:
    """ "2" / "1.5" / "2小时" → Decimal with one decimal place; refuse anything else."""
    raw = fold_width(str(text)).strip().removesuffix("小时").removesuffix("h").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DomainError("act_bad_hours", hours=str(text)) from None
    if not value.is_finite() or value < 0 or value > MAX_HOURS or value != round(value, 1):
        raise DomainError("act_bad_hours", hours=str(text))
    return value.quantize(Decimal("0.1"))


def week_range(now: datetime) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of `now`'s week on the configured clock, in UTC."""
    d = local(now).date()
    monday = d - timedelta(days=d.weekday())
    return _day_start(monday), _day_start(monday + timedelta(days=7))


def quarter_range(now: datetime) -> tuple[datetime, datetime]:
    d = local(now).date()
    first = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    nxt = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return _day_start(first), _day_start(nxt)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), zone()).astimezone(UTC)


def _members_of(caller: CallerLike, org: Organization) -> bool:
    """The caller holds a role (member or officer) somewhere in `org`'s subtree."""
    return any(
        r.role in ("member", "officer") and r.org is not None and r.org.path.startswith(org.path)
        for r in caller.roles
    )


# -- the activity ---------------------------------------------------------------------
class Activity(Model):
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
        kind: str = "other",
        place: str = "",
        capacity: int = 0,
        audience: str = "org",
        volunteer_hours: Decimal | str | int = Decimal("0"),
        signup_deadline: datetime | None = None,
        reply_target: str = "",
        now: datetime | None = None,
    ) -> Activity:
        """发布活动：检查标题、时间、名额、对象、时长、截止时间后建一条。"""
        now = now or utcnow()
        title = (title or "").strip()
        values = cls._checked(
            now,
            title=title,
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
            place=(place or "").strip()[:200],
            reply_target=reply_target[:191],
            created_at=now,
            updated_at=now,
            **values,
        )

    @staticmethod
    def _checked(now: datetime, **v: Any) -> dict[str, Any]:
        if "title" in v and not 1 <= len(v["title"]) <= TITLE_MAX:
            raise DomainError("act_bad_title", limit=TITLE_MAX)
        if "kind" in v and v["kind"] not in KINDS:
            raise DomainError("act_bad_kind", kind=v["kind"])
        if "audience" in v and v["audience"] not in AUDIENCES:
            raise DomainError("act_bad_audience", audience=v["audience"])
        if "capacity" in v and not (
            isinstance(v["capacity"], int) and 0 <= v["capacity"] <= MAX_CAPACITY
        ):
            raise DomainError("act_bad_capacity", capacity=v["capacity"], limit=MAX_CAPACITY)
        if "volunteer_hours" in v:
            v["volunteer_hours"] = parse_hours(v["volunteer_hours"])
        start, end = v.get("starts_at"), v.get("ends_at")
        if start is not None and start <= now:
            raise DomainError("act_start_past", starts_at=start)
        if start is not None and end is not None and end <= start:
            raise DomainError("act_end_before_start", starts_at=start, ends_at=end)
        deadline = v.get("signup_deadline")
        if deadline is not None:
            if deadline <= now:
                raise DomainError("act_deadline_past", deadline=deadline)
            if start is not None and deadline > start:
                raise DomainError("act_deadline_after_start", deadline=deadline, starts_at=start)
        return v

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
        """May join: "org" = the publishing organisation's subtree, "members" = any member,
        "everyone" = residents too. Officers of its scope always may."""
        if caller.is_officer_of(self.org):
            return True
        if self.audience == "everyone":
            return True
        if self.audience == "members":
            return caller.has_role("member")
        return _members_of(caller, self.org)

    async def _locked(self) -> Activity:
        """Re-read this activity holding its row (PostgreSQL) for the rest of the transaction."""
        fresh = await Activity.filter(id=self.id).select_for_update().first()
        assert fresh is not None
        for name in ("status", "capacity", "confirmed_count", "starts_at", "ends_at"):
            setattr(self, name, getattr(fresh, name))
        for name in ("signup_deadline", "checkin_code", "audience", "volunteer_hours"):
            setattr(self, name, getattr(fresh, name))
        return self

    async def _take_seat(self) -> bool:
        won = await Activity.filter(
            Q(id=self.id), Q(capacity=0) | Q(confirmed_count__lt=F("capacity"))
        ).update(confirmed_count=F("confirmed_count") + 1)
        if won:
            self.confirmed_count += 1
        return won == 1

    async def _free_seat(self) -> None:
        if await Activity.filter(id=self.id, confirmed_count__gt=0).update(
            confirmed_count=F("confirmed_count") - 1
        ):
            self.confirmed_count -= 1

    # -- sign-up (报名 / 候补 / 取消报名) ---------------------------------------------------
    async def join(
        self,
        person: Person,
        caller: CallerLike,
        *,
        reply_target: str = "",
        now: datetime | None = None,
    ) -> Signup:
        """报名：有名额就确认，没有就候补（按先来后到）。"""
        now = now or utcnow()
        await self._locked()
        if self.status == "cancelled":
            raise DomainError("act_cancelled", number=self.id, title=self.title)
        if now >= self.starts_at:
            raise DomainError("act_started", number=self.id, title=self.title)
        if now > self.signup_deadline:
            raise DomainError("act_deadline_passed", number=self.id, deadline=self.signup_deadline)
        if not self.open_to(caller):
            raise DomainError("act_not_open_to", number=self.id, audience=self.audience)
        mine = await Signup.filter(activity_id=self.id, person_id=person.id, status__in=ACTIVE)
        if mine:
            s = mine[0]
            raise DomainError(
                "act_already_signed",
                number=self.id,
                status=s.status,
                position=await s.position() if s.status == "waitlisted" else 0,
            )
        confirmed = await self._take_seat()
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
        now: datetime | None = None,
        confirm_hours: float = 12.0,
        late_cancel_hours: float = 0.0,
    ) -> list[Signup]:
        """取消报名。释放的名额给候补的第一位；返回被递补的报名（要通知他们）。
        开始前 `late_cancel_hours` 内取消的，到场统计里算缺席。"""
        from models.waitlist import is_late_cancel

        now = now or utcnow()
        await self._locked()
        mine = await Signup.filter(
            activity_id=self.id, person_id=person.id, status__in=ACTIVE
        ).first()
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
            await self._free_seat()
        mine.status = "cancelled"
        return await self._promote(now, confirm_hours) if self.status == "open" else []

    async def _promote(self, now: datetime, confirm_hours: float = 12.0) -> list[Signup]:
        """Offer free seats to the waitlist, first come first served; each must confirm
        (/确认参加) by the deadline of models/waitlist.py."""
        from models.waitlist import offer_deadline

        deadline = offer_deadline(now, self.starts_at, confirm_hours)
        promoted: list[Signup] = []
        while True:
            first = (
                await Signup.filter(activity_id=self.id, status="waitlisted").order_by("id").first()
            )
            if first is None or not await self._take_seat():
                return promoted
            if await Signup.filter(id=first.id, status="waitlisted").update(
                status="offered", promoted_at=now, offer_expires_at=deadline, updated_at=now
            ):
                first.status = "offered"
                first.promoted_at, first.offer_expires_at = now, deadline
                promoted.append(first)
            else:
                await self._free_seat()

    # -- officers: change, cancel ------------------------------------------------------
    async def revise(
        self,
        by: Person,
        *,
        now: datetime | None = None,
        confirm_hours: float = 12.0,
        **changes: Any,
    ) -> list[Signup]:
        """修改活动（标题、时间、地点、名额、对象、时长、截止）；扩容时递补候补。

        Returns the sign-ups promoted by a larger capacity."""
        now = now or utcnow()
        await self._locked()
        if self.status == "cancelled":
            raise DomainError("act_cancelled", number=self.id, title=self.title)
        if now >= self.ends_at:
            raise DomainError("act_ended", number=self.id)
        allowed = {"title", "kind", "starts_at", "ends_at", "place", "capacity", "audience"}
        allowed |= {"volunteer_hours", "signup_deadline"}
        unknown = set(changes) - allowed
        assert not unknown, unknown
        if "place" in changes:
            changes["place"] = (changes["place"] or "").strip()[:200]
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
        values = self._checked(now, **check)
        for key in ("capacity",):
            if key in changes:
                cap = values[key]
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
        return await self._promote(now, confirm_hours) if "capacity" in update else []

    async def cancel(self, reason: str, by: Person, *, now: datetime | None = None) -> list[Signup]:
        """取消活动（写明原因）；返回要通知的报名（已确认和候补的）。"""
        now = now or utcnow()
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

    # -- on-site check-in (签到) ------------------------------------------------------------
    def check_window(self, now: datetime, open_minutes: int = CODE_OPEN_MINUTES) -> None:
        if self.status == "cancelled":
            raise DomainError("act_cancelled", number=self.id, title=self.title)
        opens = self.starts_at - timedelta(minutes=open_minutes)
        if not opens <= now < self.ends_at:
            raise DomainError(
                "act_checkin_window", number=self.id, opens=opens, closes=self.ends_at, now=now
            )

    async def issue_code(
        self, *, now: datetime | None = None, open_minutes: int = CODE_OPEN_MINUTES
    ) -> str:
        """签到码：开始前 open_minutes 分钟到结束有效；同一活动只有一个码。"""
        now = now or utcnow()
        self.check_window(now, open_minutes)
        if self.checkin_code is None:
            code = f"{secrets.randbelow(10000):04d}"
            await Activity.filter(id=self.id, checkin_code__isnull=True).update(checkin_code=code)
            self.checkin_code = (await Activity.get(id=self.id)).checkin_code
        assert self.checkin_code is not None
        return self.checkin_code

    async def attend(
        self,
        person: Person,
        caller: CallerLike,
        code: str,
        *,
        now: datetime | None = None,
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
        now = now or utcnow()
        await self._locked()
        self.check_window(now, open_minutes)
        attempt, _ = await CheckinAttempt.get_or_create(
            activity_id=self.id, person_id=person.id, defaults={"updated_at": now}
        )
        if attempt.locked_until is not None and attempt.locked_until > now:
            raise DomainError("act_code_locked", number=self.id, until=attempt.locked_until)
        if self.checkin_code is None:
            raise DomainError("act_code_not_issued", number=self.id)
        typed = fold_width(code or "").strip()
        if typed != self.checkin_code:
            failures = attempt.failures + 1
            locked_until = None
            if failures >= lock_attempts:
                locked_until, failures = now + timedelta(minutes=lock_minutes), 0
            await CheckinAttempt.filter(id=attempt.id).update(
                failures=failures, locked_until=locked_until, updated_at=now
            )
            return Attendance(
                None,
                wrong_code=True,
                attempts_left=lock_attempts - failures if locked_until is None else 0,
                locked_until=locked_until,
            )
        if attempt.failures or attempt.locked_until:
            await CheckinAttempt.filter(id=attempt.id).update(
                failures=0, locked_until=None, updated_at=now
            )
        mine = await Signup.filter(
            activity_id=self.id, person_id=person.id, status__in=ACTIVE
        ).first()
        if mine is not None and mine.attended_at is not None:
            raise DomainError("act_already_attended", number=self.id, at=mine.attended_at)
        walk_in = mine is None or mine.status == "waitlisted"
        if walk_in:
            if mine is None and not self.open_to(caller):
                raise DomainError("act_not_open_to", number=self.id, audience=self.audience)
            if not await self._take_seat():
                raise DomainError("act_full_no_walkin", number=self.id, capacity=self.capacity)
        if mine is None:
            mine = await Signup.create(
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
        else:
            count = await Signup.filter(id=mine.id, attended_at__isnull=True).update(
                status="confirmed", walk_in=walk_in, attended_at=now, updated_at=now
            )
            if count != 1:
                raise DomainError("act_already_attended", number=self.id, at=now)
            mine.status, mine.walk_in, mine.attended_at = "confirmed", walk_in, now
        ref = f"act:{self.id}"
        hours = Decimal(self.volunteer_hours or 0)
        credited = Decimal("0")
        if hours > 0 and await TimeBankEntry.credit(person.id, self, hours, now=now):
            credited = hours
        points = 0
        # 群众 may join open activities; points (先锋指数) are for members only.
        member = await RoleGrant.filter(person_id=person.id, role__in=MEMBER_ROLES).exists()
        if (
            member
            and points_attendance
            and await award_points(
                person.id, "attendance", points_attendance, ref, org_id=self.org_id, now=now
            )
        ):
            points += points_attendance
        volunteer_points = int((hours * points_per_hour).to_integral_value(ROUND_HALF_UP))
        if (
            member
            and volunteer_points
            and await award_points(
                person.id, "volunteer", volunteer_points, ref, org_id=self.org_id, now=now
            )
        ):
            points += volunteer_points
        return Attendance(mine, walk_in=walk_in, hours=credited, points=points)

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


# -- time bank (时间银行) ---------------------------------------------------------------
class TimeBankEntry(Model):
    """时间银行的一行流水：存入（活动签到，正数）或兑换（党务工作者经办，负数）。"""

    id = fields.BigIntField(primary_key=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="timebank", on_delete=fields.CASCADE
    )
    org = fields.ForeignKeyField(
        "models.Organization", related_name="timebank", null=True, on_delete=fields.SET_NULL
    )
    hours = fields.DecimalField(max_digits=8, decimal_places=1)
    # credit / redeem; claim (a confirmed /登记时长), adjust (/补时长): models/claims.py
    kind = fields.CharField(max_length=16)
    activity = fields.ForeignKeyField(
        "models.Activity", related_name="timebank", null=True, on_delete=fields.SET_NULL
    )
    officer = fields.ForeignKeyField(
        "models.Person", related_name="timebank_redeemed", null=True, on_delete=fields.SET_NULL
    )
    item = fields.CharField(max_length=100, default="")
    # "act:<activity>:<person>" for a credit: each attendance is banked once.
    ref = fields.CharField(max_length=64, null=True, unique=True)
    reason = fields.TextField(default="", db_default="")  # why an officer adjusted it
    appeal = fields.ForeignKeyField(
        "models.PointsAppeal", related_name="timebank", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "timebank_entry"
        indexes = (("person_id", "created_at"),)

    @classmethod
    async def credit(
        cls, person_id: int, activity: Activity, hours: Decimal, *, now: datetime | None = None
    ) -> bool:
        """Bank the hours of one attendance; False when they were already banked."""
        try:
            async with in_transaction():
                await cls.create(
                    person_id=person_id,
                    org_id=activity.org_id,
                    hours=hours,
                    kind="credit",
                    activity_id=activity.id,
                    ref=f"act:{activity.id}:{person_id}",
                    created_at=now or utcnow(),
                )
        except IntegrityError:
            return False
        return True

    @classmethod
    async def redeem(
        cls,
        person: Person,
        hours: Decimal | str,
        item: str,
        officer: Person,
        *,
        org: Organization | None = None,
        now: datetime | None = None,
    ) -> tuple[TimeBankEntry, Decimal]:
        """兑换：扣 hours 小时换 item，不许透支。Call inside a transaction.

        The person's row is locked first (PostgreSQL; SQLite holds the write lock), so
        two redemptions at once see each other's row. Returns (entry, new balance)."""
        amount = parse_hours(hours)
        if amount <= 0:
            raise DomainError("act_bad_hours", hours=str(hours))
        item = (item or "").strip()
        if not 1 <= len(item) <= 100:
            raise DomainError("timebank_need_item")
        await Person.filter(id=person.id).select_for_update().first()
        have = await balance(person.id)
        if have < amount:
            raise DomainError("timebank_insufficient", name=person.name, balance=have, hours=amount)
        entry = await cls.create(
            person_id=person.id,
            org=org,
            hours=-amount,
            kind="redeem",
            officer=officer,
            item=item,
            created_at=now or utcnow(),
        )
        return entry, have - amount


async def balance(person_id: int) -> Decimal:
    """时间银行余额 = 流水之和。"""
    rows = await TimeBankEntry.filter(person_id=person_id).values_list("hours", flat=True)
    return sum((Decimal(h) for h in rows), Decimal("0")).quantize(Decimal("0.1"))


# -- points (积分) ---------------------------------------------------------------------
class PointsEntry(Model):
    """积分流水：签到、志愿服务、学习（每日党课）；同一 (人, 类别, 来源) 只记一次。"""

    id = fields.BigIntField(primary_key=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="points", on_delete=fields.CASCADE
    )
    org = fields.ForeignKeyField(
        "models.Organization", related_name="points", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharField(max_length=16)  # POINT_KINDS
    points = fields.IntField()
    ref = fields.CharField(max_length=64)
    # For adjustments (/补积分): who, why, and the appeal it answers (models/claims.py).
    officer = fields.ForeignKeyField(
        "models.Person", related_name="points_adjusted", null=True, on_delete=fields.SET_NULL
    )
    reason = fields.TextField(default="", db_default="")
    appeal = fields.ForeignKeyField(
        "models.PointsAppeal", related_name="points", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_entry"
        unique_together = (("person", "kind", "ref"),)
        indexes = (("created_at",),)


async def award_points(
    person_id: int,
    kind: str,
    points: int,
    ref: str,
    *,
    org_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """记积分；同一 (person, kind, ref) 第二次起什么也不做，返回 False。

    Issue #7 calls `await award_points(person_id, "lesson", points, ref)` when someone
    reads the daily lesson (ref names the lesson, e.g. "lesson:2026-11-22")."""
    if kind not in POINT_KINDS:
        raise ValueError(f"unknown points kind {kind!r}")
    try:
        async with in_transaction():
            await PointsEntry.create(
                person_id=person_id,
                org_id=org_id,
                kind=kind,
                points=int(points),
                ref=ref[:64],
                created_at=now or utcnow(),
            )
    except IntegrityError:
        return False
    return True


async def points_of(person_id: int, since: datetime | None = None) -> dict[str, int]:
    """Points per kind (and "total"), all time or since `since`."""
    query = PointsEntry.filter(person_id=person_id)
    if since is not None:
        query = query.filter(created_at__gte=since)
    totals = dict.fromkeys(POINT_KINDS, 0)
    for kind, pts in await query.values_list("kind", "points"):
        totals[kind] = totals.get(kind, 0) + pts
    totals["total"] = sum(totals[k] for k in POINT_KINDS)
    return totals


async def people_of(org: Organization) -> set[int]:
    """People belonging to the organisation's subtree: role grants, home or local org."""
    ids = set(
        await RoleGrant.filter(
            org__path__startswith=org.path, role__in=("member", "officer")
        ).values_list("person_id", flat=True)
    )
    ids |= set(
        await Person.filter(
            Q(home_org__path__startswith=org.path) | Q(local_org__path__startswith=org.path)
        ).values_list("id", flat=True)
    )
    return ids


def belongs_q(org: Organization) -> Q:
    """`person_id` of someone belonging to the organisation's subtree (as `people_of`),
    by subqueries: a district's 50,000 ids are never bound as parameters."""
    orgs = orgs_under([org.path])
    grants = RoleGrant.filter(org_id__in=orgs, role__in=("member", "officer"))
    # The person's own columns through the join (a lookup by key per row), not a
    # subquery over every person (SQLite re-read it: seconds for a district).
    return (
        Q(person__home_org_id__in=orgs)
        | Q(person__local_org_id__in=orgs)
        | Q(person_id__in=Subquery(grants.values("person_id")))
    )


async def leaderboard(
    org: Organization, now: datetime | None = None, kind: str | None = None, limit: int = 10
) -> list[tuple[Person, int]]:
    """This month's top `limit` of the organisation by points (kind "lesson": 学习达人榜),
    summed and ranked by the database."""
    start, end = month_range(now or utcnow())
    query = PointsEntry.filter(belongs_q(org), created_at__gte=start, created_at__lt=end)
    if kind is not None:
        query = query.filter(kind=kind)
    rows = (
        await query.annotate(total=Sum("points"))
        .group_by("person_id")
        .order_by("-total", "person_id")
        .limit(limit)
        .values("person_id", "total")
    )
    best = [(r["person_id"], int(r["total"])) for r in rows if r["total"] and r["total"] > 0]
    people = {p.id: p for p in await Person.filter(id__in=[p for p, _ in best])}
    return [(people[p], t) for p, t in best]


# -- for the broadcasts (issue #7) ------------------------------------------------------
def ancestor_paths(path: str) -> list[str]:
    """ "/1/4/9/" → ["/1/", "/1/4/", "/1/4/9/"]: the organisation and those above it."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


async def week_activities(org_path: str, now: datetime) -> list[Activity]:
    """Open activities starting this week (Asia/Shanghai, Monday first) visible in the
    organisation at `org_path`: those of the organisation and its ancestors, and those of
    its subtree open beyond their own organisation (audience members / everyone);
    ordered by start."""
    start, end = week_range(now)
    scope = Q(org__path__in=ancestor_paths(org_path)) | (
        Q(org__path__startswith=org_path) & ~Q(audience="org")
    )
    return (
        await Activity.filter(scope, status="open", starts_at__gte=start, starts_at__lt=end)
        .select_related("org")
        .order_by("starts_at", "id")
    )


# -- 三会一课 ----------------------------------------------------------------------------
async def compliance(branches: list[Organization], now: datetime | None = None) -> list[dict]:
    """For each branch: was each required meeting held this period, with attendance?

    Period: the month (支委会, 党小组会) or the quarter (支部党员大会, 党课) of `now`,
    Asia/Shanghai. Held = not cancelled, ended, at least one person checked in. Attendance
    rate = checked in / expected, where expected is the branch's members (role grants in
    its subtree) for the general meeting and the lecture, and the confirmed sign-ups
    (walk-ins included) for the committee and group meetings (or when no member is known).
    status: held / scheduled (in the period, not ended yet) / missing.

    Three queries for all the branches together (members, meetings, their sign-ups);
    callers pass a page of branches, not a district's thousand.
    """
    now = now or utcnow()
    periods = {"month": month_range(now), "quarter": quarter_range(now)}
    if not branches:
        return []
    in_branches = Q(pk__in=[])
    for b in branches:
        in_branches |= Q(path__startswith=b.path)
    orgs = Subquery(Organization.filter(in_branches).values("id"))
    members: dict[int, set[int]] = {b.id: set() for b in branches}
    for path, person in await RoleGrant.filter(org_id__in=orgs, role="member").values_list(
        "org__path", "person_id"
    ):
        members[_branch_of(branches, path).id].add(person)
    starts = min(p[0] for p in periods.values())
    ends = max(p[1] for p in periods.values())
    acts = (
        await Activity.filter(
            org_id__in=orgs,
            kind__in=[k for k, _ in REQUIRED_MEETINGS],
            status="open",
            starts_at__gte=starts,
            starts_at__lt=ends,
        )
        .select_related("org")
        .order_by("starts_at", "id")
    )
    report = []
    for branch in branches:
        n_members = len(members[branch.id])
        mine = [a for a in acts if _branch_of(branches, a.org.path).id == branch.id]
        items = []
        for kind, period in REQUIRED_MEETINGS:
            start, end = periods[period]
            meetings = []
            for act in (a for a in mine if a.kind == kind and start <= a.starts_at < end):
                f = await act.figures()  # 三会一课 counts members only (a page's meetings)
                whole = kind in ("general_meeting", "lecture") and n_members > 0
                expected = n_members if whole else f["confirmed"] + f["late_cancels"]
                came = f["attended_members"]
                rate = round(100 * came / expected, 1) if expected else None
                held = act.ends_at <= now and came > 0
                meetings.append(
                    {
                        "activity": act,
                        "attended": came,
                        "expected": expected,
                        "rate": rate,
                        "held": held,
                    }
                )
            if any(m["held"] for m in meetings):
                status = "held"
            elif any(m["activity"].ends_at > now for m in meetings):
                status = "scheduled"
            else:
                status = "missing"
            items.append(
                {
                    "kind": kind,
                    "period": period,
                    "start": start,
                    "end": end,
                    "status": status,
                    "meetings": meetings,
                }
            )
        report.append({"branch": branch, "members": n_members, "requirements": items})
    return report


def _branch_of(branches: list[Organization], path: str) -> Organization:
    """The branch whose subtree holds `path` (the deepest, should branches nest)."""
    return max((b for b in branches if path.startswith(b.path)), key=lambda b: len(b.path))
