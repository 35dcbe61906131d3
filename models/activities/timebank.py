"""时间银行与积分：两本流水账，余额永远是行的和。

Credits carry a unique ``ref`` and points a unique (person, kind, ref), so each
attendance or lesson counts once. A redemption locks the person, then checks the SUM.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tortoise import connections, fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Sum
from tortoise.models import Model
from tortoise.transactions import in_transaction

from bot.db import placeholders, prefix_match, prefix_values
from bot.text import fold_width
from models import widecache
from models.activities.rules import MEMBER_ROLES, POINT_KINDS, month_range, parse_hours
from models.errors import DomainError
from models.people import Organization, Person, RoleGrant, scope_q

if TYPE_CHECKING:
    from models.activities.publish import Activity


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
        cls, person_id: int, activity: Activity, hours: Decimal, *, now: datetime
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
                    created_at=now,
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
        now: datetime,
        org: Organization | None = None,
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
            created_at=now,
        )
        return entry, have - amount

    @classmethod
    async def latest_of(cls, person_id: int, limit: int = 10) -> list[TimeBankEntry]:
        """/时间银行: the person's last rows, newest first."""
        return (
            await cls.filter(person_id=person_id)
            .select_related("activity")
            .order_by("-created_at", "-id")
            .limit(limit)
        )


async def balance(person_id: int) -> Decimal:
    """时间银行余额 = 流水之和。"""
    rows = await TimeBankEntry.filter(person_id=person_id).values_list("hours", flat=True)
    return sum((Decimal(h) for h in rows), Decimal("0")).quantize(Decimal("0.1"))


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
        # (person, created_at, kind, points): a person's month read from the index alone
        indexes = (("created_at",), ("person_id", "created_at", "kind", "points"))


async def award_points(
    person_id: int,
    kind: str,
    points: int,
    ref: str,
    *,
    now: datetime,
    org_id: int | None = None,
) -> bool:
    """记积分；同一 (person, kind, ref) 第二次起什么也不做，返回 False。

    The daily lesson calls `await award_points(person_id, "lesson", points, ref, now=now)`
    when someone reads it (ref names the lesson, e.g. "lesson:2026-11-22")."""
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
                created_at=now,
            )
    except IntegrityError:
        return False
    return True


# Before any ledger entry: "since EPOCH" is all time.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def points_of(person_id: int | None, since: datetime | None = None) -> dict[str, int]:
    """Points per kind (and "total"), all time or since `since`; all 0 for nobody."""
    month, ever = await points_since_and_ever(person_id, since or EPOCH)
    return ever if since is None else month


async def points_since_and_ever(
    person_id: int | None, since: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    """points_of(person_id, since) and points_of(person_id), summed in one statement."""
    month, ever = dict.fromkeys(POINT_KINDS, 0), dict.fromkeys(POINT_KINDS, 0)
    if person_id is not None:
        rows = await (
            PointsEntry.filter(person_id=person_id)
            .annotate(ever=Sum("points"), month=Sum("points", _filter=Q(created_at__gte=since)))
            .group_by("kind")
            .values("kind", "month", "ever")
        )
        for row in rows:
            kind = row["kind"]
            month[kind] = month.get(kind, 0) + int(row["month"] or 0)
            ever[kind] = ever.get(kind, 0) + int(row["ever"] or 0)
    for totals in (month, ever):
        totals["total"] = sum(totals[k] for k in POINT_KINDS)
    return month, ever


async def adjustments_of(person_id: int | None) -> list[Any]:
    """The last officer adjustments of someone's points and hours, newest first (/积分)."""
    if person_id is None:
        return []
    points = await PointsEntry.filter(person_id=person_id, kind="adjust").order_by("-id").limit(5)
    hours = await TimeBankEntry.filter(person_id=person_id, kind="adjust").order_by("-id").limit(5)
    return sorted([*points, *hours], key=lambda e: e.created_at, reverse=True)[:5]


async def people_of(org: Organization) -> set[int]:
    """People belonging to the organisation's subtree: role grants, home or local org."""
    ids = set(
        await RoleGrant.filter(org__path__startswith=org.path, role__in=MEMBER_ROLES).values_list(
            "person_id", flat=True
        )
    )
    ids |= set(
        await Person.filter(
            Q(home_org__path__startswith=org.path) | Q(local_org__path__startswith=org.path)
        ).values_list("id", flat=True)
    )
    return ids


async def leaderboard(
    org: Organization, now: datetime, kind: str | None = None, limit: int = 10
) -> list[tuple[Person, int]]:
    """This month's top `limit` of the organisation by points (kind "lesson": 学习达人榜),
    summed and ranked by the database; a street's or the district's board is reused for a
    minute (models/widecache.py)."""
    start, _ = month_range(now)
    key = ("rank", org.path, kind, limit, start)
    return await widecache.figures(
        key, [org.path], now, lambda: _leaderboard(org, now, kind, limit)
    )


async def _leaderboard(
    org: Organization, now: datetime, kind: str | None, limit: int
) -> list[tuple[Person, int]]:
    start, end = month_range(now)
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    # in the order of the marks in the text: SQLite's are all "?"
    roles = len(MEMBER_ROLES)
    values: list[Any] = [*prefix_values(org.path), *MEMBER_ROLES, start, end]
    if kind is not None:
        values.append(kind)
    marks = placeholders(conn, len(values) + 1)
    sql = _TOP_SQL["postgres" if dialect == "postgres" else "sqlite"].format(
        belongs=_BELONGS_SQL.format(
            subtree=prefix_match("path", marks[:3], dialect), roles=",".join(marks[3 : 3 + roles])
        ),
        start=marks[3 + roles],
        end=marks[4 + roles],
        kind=f" AND e.kind = {marks[5 + roles]}" if kind is not None else "",
        limit=marks[-1],
    )
    values.append(limit)
    rows = await conn.execute_query_dict(sql, values)
    best = [(r["person_id"], int(r["total"])) for r in rows]
    people = {p.id: p for p in await Person.filter(id__in=[p for p, _ in best])}
    return [(people[p], t) for p, t in best]


# Who belongs to the organisation's subtree (as `people_of`): home branch, local
# organisation, or a member's or officer's role, as a UNION of ids, each found by its
# organisation index (an OR made PostgreSQL hash every person and grant). Then each
# person's month is summed by the (person, created_at) index: a member's /排行 reads a
# branch's people, not the district's month (on SQLite, walking the month took 57 ms for
# a branch at S = 1.0 by the month's end; this, 0.3 ms). One written-out statement: a
# member's /排行 is asked often, and tortoise took milliseconds to build three.
_BELONGS_SQL = """WITH o AS (SELECT id FROM organization WHERE {subtree}),
p AS (SELECT id FROM person WHERE home_org_id IN (SELECT id FROM o)
 UNION SELECT id FROM person WHERE local_org_id IN (SELECT id FROM o)
 UNION SELECT person_id FROM role_grant WHERE org_id IN (SELECT id FROM o) AND role IN ({roles}))"""
_TOP_SQL = {
    # per person in a lateral join, so that the plan PostgreSQL keeps for the statement
    # is right for a branch whatever the month holds
    "postgres": """{belongs}
SELECT p.id AS person_id, t.total FROM p CROSS JOIN LATERAL (
 SELECT SUM(e.points) AS total FROM points_entry e
 WHERE e.person_id = p.id AND e.created_at >= {start} AND e.created_at < {end}{kind}) t
WHERE t.total > 0 ORDER BY t.total DESC, p.id LIMIT {limit}""",
    # SQLite has no LATERAL: the same lookups as a join, the people outside
    "sqlite": """{belongs}
SELECT p.id AS person_id, SUM(e.points) AS total FROM p JOIN points_entry e
 ON e.person_id = p.id AND e.created_at >= {start} AND e.created_at < {end}{kind}
GROUP BY p.id HAVING SUM(e.points) > 0 ORDER BY total DESC, p.id LIMIT {limit}""",
}


async def find_person(text: str, scope: list[str]) -> Person:
    """The one person an officer names ("张三" or "#12") among those of their scope
    (`scope` = Ctx.scope_paths): belonging to it, or with time bank rows in it."""
    name = fold_width(text).strip()
    if name.startswith("#") and name[1:].isdigit():
        found = await Person.filter(id=int(name[1:]))
    else:
        found = await Person.filter(Person.name_q(name)).order_by("id")
    if "/" not in scope:
        allowed: set[int] = set()
        for path in scope:
            org = await Organization.filter(path=path).first()
            if org is not None:
                allowed |= await people_of(org)
        banked = set(
            await TimeBankEntry.filter(
                scope_q(scope), person_id__in=[p.id for p in found]
            ).values_list("person_id", flat=True)
        )
        found = [p for p in found if p.id in allowed | banked]
    if not found:
        raise DomainError("timebank_unknown_person", name=name)
    if len(found) > 1:
        raise DomainError("timebank_ambiguous", name=name, count=len(found), people=found)
    return found[0]
