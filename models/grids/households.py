"""住户与走访：网格里的每一户、网格员的每一次走访，以及进度和统计的查询。

A household belongs to a grid (Organization kind="grid") and is looked after by a
grid member (a person holding the role `grid_worker` in that grid). Its address is
kept as written and as `address_key` (rules.parse_place), unique in the grid: the
import is idempotent on (grid, address_key). Phones are stored whole and shown
masked. A visit keeps its local date, mode, note and the request filed from it.
Figures are aggregate queries (GROUP BY), one or two per reply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from tortoise import fields
from tortoise.expressions import Q
from tortoise.functions import Count, Max
from tortoise.models import Model

from bot.clock import local
from bot.text import mask_phones
from models.errors import DomainError
from models.grids.ladder import record_contact
from models.grids.rules import (
    MODES,
    Door,
    HouseholdYear,
    Progress,
    is_due,
    match_place,
    over_quota,
    parse_place,
    progress,
)
from models.people import Organization, Person, RoleGrant

GRID_WORKER = "grid_worker"
GRID_KIND = "grid"


class CallerLike(Protocol):
    def is_officer_of(self, org: Any) -> bool: ...


async def worker_grids(person_id: int | None) -> list[Organization]:
    """The grids this person is a grid member of."""
    if person_id is None:
        return []
    grants = await RoleGrant.filter(person_id=person_id, role=GRID_WORKER).select_related("org")
    return [g.org for g in grants if g.org is not None and g.org.kind == GRID_KIND]


async def grid_workers(grid: Organization) -> list[Person]:
    grants = await RoleGrant.filter(org_id=grid.id, role=GRID_WORKER).select_related("person")
    return sorted((g.person for g in grants), key=lambda p: p.id)


class Household(Model):
    """一户：地址（照写，另存规范化的匹配键）、户主、电话、标签、网格员。"""

    id = fields.IntField(primary_key=True)
    grid = fields.ForeignKeyField(
        "models.Organization", related_name="households", on_delete=fields.RESTRICT
    )
    address = fields.CharField(max_length=100)
    address_key = fields.CharField(max_length=100)
    head_name = fields.CharField(max_length=32, default="")
    phone = fields.CharField(max_length=20, default="")
    tags = fields.JSONField(default=list)
    worker = fields.ForeignKeyField(
        "models.Person", related_name="grid_households", null=True, on_delete=fields.SET_NULL
    )
    # A party member living here: a visit to the household counts as contact (失联排查).
    member = fields.ForeignKeyField(
        "models.Person", related_name="member_households", null=True, on_delete=fields.SET_NULL
    )
    note = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "household"
        unique_together = (("grid_id", "address_key"),)
        indexes = (("worker_id",),)

    @property
    def masked_phone(self) -> str:
        return mask_phones(self.phone)

    @property
    def label(self) -> str:
        return f"{self.address} {self.head_name}".strip()

    def door(self) -> Door:
        return Door(self.id, self.address_key, self.head_name)

    @staticmethod
    def key_of(address: str) -> str:
        key = parse_place(address).key
        if not key:
            raise DomainError("grid_bad_address", address=address)
        return key[:100]

    @classmethod
    async def check_worker(cls, grid: Organization, person_id: int | None) -> None:
        """A household's grid member must be a grid member of that grid."""
        if person_id is None:
            return
        if not await RoleGrant.filter(
            person_id=person_id, role=GRID_WORKER, org_id=grid.id
        ).exists():
            raise DomainError("grid_not_worker_of", grid_name=grid.name)

    @classmethod
    async def upsert(
        cls,
        grid: Organization,
        address: str,
        now: datetime,
        *,
        head_name: str = "",
        phone: str = "",
        tags: Sequence[str] = (),
        worker_id: int | None = None,
        member_id: int | None = None,
        note: str = "",
    ) -> tuple[Household, str]:
        """The household at this address of the grid, written as given (an import run twice
        changes nothing the second time). Returns (household, "created" | "updated" |
        "unchanged")."""
        if grid.kind != GRID_KIND:
            raise DomainError("grid_not_a_grid", org_name=grid.name)
        await cls.check_worker(grid, worker_id)
        values = {
            "address": address.strip()[:100],
            "head_name": head_name.strip()[:32],
            "phone": phone,
            "tags": list(tags),
            "worker_id": worker_id,
            "member_id": member_id,
            "note": note.strip()[:200],
        }
        key = cls.key_of(address)
        row = await cls.filter(grid_id=grid.id, address_key=key).first()
        if row is None:
            row = await cls.create(
                grid_id=grid.id, address_key=key, created_at=now, updated_at=now, **values
            )
            return row, "created"
        if all(getattr(row, k) == v for k, v in values.items()):
            return row, "unchanged"
        await cls.filter(id=row.id).update(updated_at=now, **values)
        await row.refresh_from_db()
        return row, "updated"

    @classmethod
    async def match(cls, grids: Sequence[Organization], typed: str) -> Household:
        """The household of one of `grids` meant by `typed` (address or head's name)."""
        if not grids:
            raise DomainError("grid_not_a_worker")
        rows = (
            await cls.filter(grid_id__in=[g.id for g in grids])
            .select_related("grid")
            .order_by("address_key", "id")
        )
        by_id = {h.id: h for h in rows}
        found, maybe = match_place(typed, [h.door() for h in rows])
        if found is not None:
            return by_id[found.id]
        raise DomainError(
            "grid_no_household", place=typed, candidates=[by_id[d.id].label for d in maybe]
        )


class Visit(Model):
    """一次走访：哪天、哪户、哪位网格员、方式（上门/电话/微信/其他）、记录、转成的诉求。"""

    id = fields.IntField(primary_key=True)
    household = fields.ForeignKeyField(
        "models.Household", related_name="visits", on_delete=fields.CASCADE
    )
    # The household's grid at the time (scope and ledgers without a join through it).
    grid = fields.ForeignKeyField(
        "models.Organization", related_name="visits", on_delete=fields.RESTRICT
    )
    worker = fields.ForeignKeyField(
        "models.Person", related_name="visits", on_delete=fields.RESTRICT
    )
    visited_on = fields.DateField()
    mode = fields.CharField(max_length=8, default="visit")
    note = fields.TextField(default="")
    request = fields.ForeignKeyField(
        "models.ServiceRequest", related_name="visits", null=True, on_delete=fields.SET_NULL
    )
    chat = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "visit"
        indexes = (
            ("household_id", "visited_on"),
            ("grid_id", "visited_on"),
            ("worker_id", "visited_on"),
        )

    @classmethod
    async def record(
        cls,
        household: Household,
        worker: Person,
        mode: str,
        note: str,
        now: datetime,
        *,
        chat: str = "",
    ) -> Visit:
        """记一次走访；住在这户的党员算作联系上了（失联阶梯回到正常）。"""
        await Household.check_worker(household.grid, worker.id)
        if mode not in MODES:
            mode = "visit"
        note = (note or "").strip()
        if len(note) > 500:
            raise DomainError("grid_note_too_long", limit=500)
        visit = await cls.create(
            household_id=household.id,
            grid_id=household.grid_id,
            worker_id=worker.id,
            visited_on=local(now).date(),
            mode=mode,
            note=note,
            chat=chat[:191],
            created_at=now,
        )
        if household.member_id is not None:
            await record_contact([household.member_id], now, "visit", actor_id=worker.id)
        return visit

    async def link_request(self, request_id: int) -> None:
        """转为诉求：a visit becomes a request once."""
        if not await Visit.filter(id=self.id, request_id__isnull=True).update(
            request_id=request_id
        ):
            raise DomainError("grid_visit_has_request", visit=self.id)
        self.request_id = request_id


# -- progress and figures -----------------------------------------------------------------
def year_bounds(today: date) -> tuple[date, date]:
    return date(today.year, 1, 1), date(today.year, 12, 31)


async def year_rows(households: Sequence[Household], today: date) -> list[HouseholdYear]:
    """Each household's visits this year and last visit ever (one GROUP BY each)."""
    ids = [h.id for h in households]
    first, last = year_bounds(today)
    counts = dict(
        await Visit.filter(household_id__in=ids, visited_on__gte=first, visited_on__lte=last)
        .annotate(n=Count("id"))
        .group_by("household_id")
        .values_list("household_id", "n")
    )
    latest = dict(
        await Visit.filter(household_id__in=ids)
        .annotate(last=Max("visited_on"))
        .group_by("household_id")
        .values_list("household_id", "last")
    )
    return [
        HouseholdYear(h.id, h.label, int(counts.get(h.id, 0)), _as_date(latest.get(h.id)))
        for h in households
    ]


def _as_date(value: Any) -> date | None:
    """SQLite hands MAX(date) back as text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def worker_progress(worker_id: int, today: date, quota: int) -> Progress:
    households = await Household.filter(worker_id=worker_id).order_by("address_key", "id")
    return progress(await year_rows(households, today), quota, today.month)


async def my_grid(
    worker_id: int, today: date, quota: int
) -> tuple[list[tuple[Household, HouseholdYear]], Progress]:
    """My households with their year, due ones first (most behind first), then by address."""
    households = await Household.filter(worker_id=worker_id).order_by("address_key", "id")
    years = await year_rows(households, today)
    rows = list(zip(households, years, strict=True))
    rows.sort(key=lambda r: (not is_due(r[1].visits, quota, today.month), r[1].visits))
    return rows, progress(years, quota, today.month)


async def grid_figures(
    org: Organization, today: date, quota: int, per_worker: int
) -> list[dict[str, Any]]:
    """Per grid member under `org`: households, coverage this year, households behind the
    year's pace, visits per month (aggregate queries, no row per visit)."""
    scope = Q(grid__path__startswith=org.path)
    households = await Household.filter(scope).values_list("id", "worker_id", "grid_id")
    first, last = year_bounds(today)
    counts = dict(
        await Visit.filter(scope, visited_on__gte=first, visited_on__lte=last)
        .annotate(n=Count("id"))
        .group_by("household_id")
        .values_list("household_id", "n")
    )
    per_day = (
        await Visit.filter(scope, visited_on__gte=first, visited_on__lte=last)
        .annotate(n=Count("id"))
        .group_by("worker_id", "visited_on")
        .values_list("worker_id", "visited_on", "n")
    )
    by_worker: dict[int | None, dict[str, Any]] = {}

    def entry(wid: int | None) -> dict[str, Any]:
        return by_worker.setdefault(
            wid, {"households": 0, "visited": 0, "behind": 0, "months": [0] * today.month}
        )

    for hid, wid, _ in households:
        e = entry(wid)
        n = int(counts.get(hid, 0))
        e["households"] += 1
        e["visited"] += n > 0
        e["behind"] += is_due(n, quota, today.month)
    for wid, day, n in per_day:
        month = _as_date(day).month  # type: ignore[union-attr]
        if month <= today.month:
            entry(wid)["months"][month - 1] += int(n)
    people = {p.id: p for p in await Person.filter(id__in=[w for w in by_worker if w is not None])}
    grids = defaultdict(list)
    for g in await RoleGrant.filter(person_id__in=list(people), role=GRID_WORKER).select_related(
        "org"
    ):
        if g.org is not None and g.org.path.startswith(org.path):
            grids[g.person_id].append(g.org.name)
    out = []
    for wid, e in by_worker.items():
        e["worker"] = people.get(wid) if wid is not None else None
        e["grids"] = grids.get(wid, []) if wid is not None else []
        e["coverage"] = round(100 * e["visited"] / e["households"]) if e["households"] else 0
        e["over"] = over_quota(e["households"], per_worker)
        out.append(e)
    out.sort(key=lambda e: (e["worker"] is None, e["worker"].id if e["worker"] else 0))
    return out
