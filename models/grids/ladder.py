"""失联党员排查：每月一格的联系阶梯。

Each month a member is reached (any message from them, a check-in, a visit to the
household they live in) or not. `Person.last_seen_at` is the last contact; every
kind of contact goes through `record_contact`, which also moves a member on the
ladder back to 正常 (history kept in `LadderEvent`). The monthly `advance` puts
members unreached for `suspect_months` whole months on 疑似失联 with two aggregate
queries, whatever the number of members; after `confirm_months` the branch
secretary confirms 失联 (`confirm`) or records contact.

Stages: normal 正常 · suspected 疑似失联 · lost 失联 (models/grids/rules.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from tortoise import fields
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.transactions import in_transaction

from bot.clock import day_start, local
from bot.db import driver_time, placeholders
from models.errors import DomainError
from models.grids.rules import (
    LOST,
    NORMAL,
    SUSPECTED,
    may_confirm,
    month_index,
    month_label,
    month_of_index,
    unreached_months,
)
from models.people import Organization, Person, RoleGrant, chunked

# Person.relation_status of a registered member (models/checkin.py): confirmed, or 口袋党员.
MEMBER_RELATIONS = ("registered", "unregistered")


class OfficerLike(Protocol):
    def is_officer_of(self, org: Any) -> bool: ...


class ContactLadder(Model):
    """一位党员在阶梯上的位置：阶段、从何时起、那时的最后联系。No row means 正常."""

    id = fields.IntField(primary_key=True)
    person = fields.OneToOneField("models.Person", related_name="ladder", on_delete=fields.CASCADE)
    stage = fields.CharField(max_length=16, default=NORMAL, db_index=True)
    since = fields.DatetimeField()
    last_contact_at = fields.DatetimeField(null=True)

    class Meta:
        table = "contact_ladder"

    def unreached(self, today: date) -> int:
        if self.last_contact_at is None:
            return 0
        return unreached_months(local(self.last_contact_at).date(), today)

    @property
    def last_month(self) -> str:
        return contact_month(self.last_contact_at)


def contact_month(when: datetime | None) -> str:
    """最后联系 as officers read it: 2026-07 (local month), "" for never."""
    return month_label(local(when).date()) if when else ""


class LadderEvent(Model):
    """阶梯上的一步：谁、从哪一级到哪一级、因为什么（auto / confirm / contact）、何时。"""

    id = fields.BigIntField(primary_key=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="ladder_events", on_delete=fields.CASCADE
    )
    from_stage = fields.CharField(max_length=16)
    to_stage = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=16)  # auto · confirm · contact
    via = fields.CharField(max_length=16, default="")  # message · checkin · visit · officer
    actor = fields.ForeignKeyField(
        "models.Person", related_name="ladder_actions", null=True, on_delete=fields.SET_NULL
    )
    note = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "ladder_event"
        indexes = (("person_id", "created_at"),)


async def record_contact(
    person_ids: Iterable[int],
    now: datetime,
    via: str,
    *,
    actor_id: int | None = None,
    note: str = "",
) -> list[int]:
    """These people were in touch now: last contact moves, and anyone on the ladder goes
    back to 正常. Returns the ids that came back."""
    ids = sorted({i for i in person_ids if i is not None})
    if not ids:
        return []
    await Person.filter(id__in=ids).update(last_seen_at=now)
    on_ladder = await ContactLadder.filter(person_id__in=ids, stage__in=(SUSPECTED, LOST))
    back, events = [], []
    for row in on_ladder:
        # Conditional: two contacts at once write one step.
        if await ContactLadder.filter(id=row.id, stage=row.stage).update(stage=NORMAL, since=now):
            back.append(row.person_id)
            events.append(
                LadderEvent(
                    person_id=row.person_id,
                    from_stage=row.stage,
                    to_stage=NORMAL,
                    reason="contact",
                    via=via,
                    actor_id=actor_id,
                    note=note[:200],
                    created_at=now,
                )
            )
    if events:
        await LadderEvent.bulk_create(events)
    return back


def members_q() -> Q:
    return Q(relation_status__in=MEMBER_RELATIONS)


def scope_q(paths: list[str], prefix: str = "") -> Q:
    """Members whose home branch or local organisation lies under one of `paths`."""
    q = Q(pk__in=[]) if not prefix else Q(**{f"{prefix}id__in": []})
    for p in paths:
        q |= Q(**{f"{prefix}home_org__path__startswith": p})
        q |= Q(**{f"{prefix}local_org__path__startswith": p})
    return q


def cutoff_for(today: date, months: int) -> datetime:
    """Last contact before this (UTC) instant → at least `months` whole months unreached."""
    return day_start(month_of_index(month_index(today) - months))


async def advance(now: datetime, suspect_months: int = 3) -> list[int]:
    """The month's step: members unreached `suspect_months` whole months become 疑似失联.

    Idempotent (run it as often as you like). Found by the database, however many
    members there are, and read STEP at a time by id; returns the ids that moved.
    """
    cutoff = cutoff_for(local(now).date(), suspect_months)
    on_ladder = Subquery(ContactLadder.filter(stage__in=(SUSPECTED, LOST)).values("person_id"))
    unreached = Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, created_at__lt=cutoff)
    due = Person.filter(members_q(), unreached).exclude(id__in=on_ladder)
    found: list[tuple[Any, ...]] = []
    while True:  # a page at a time, by id (see tasks_due)
        after = due.filter(id__gt=found[-1][0]) if found else due
        page = (
            await after.order_by("id").limit(STEP).values_list("id", "last_seen_at", "created_at")
        )
        found += page
        if len(page) < STEP:
            break
    if not found:
        return []
    last = {pid: seen or created for pid, seen, created in found}
    moved: list[int] = []
    # A district's first run moves thousands: a chunk of people per transaction (their
    # ladder rows and history together), written as prepared statements run for many
    # rows, since building 12,000 model objects took most of a second-long tick.
    for part in chunked(last, STEP):
        async with in_transaction() as conn:
            moved += await _climb(conn, part, last, now)
    return sorted(moved)


async def _climb(conn: Any, part: list[int], last: dict[int, datetime], now: datetime) -> list[int]:
    """正常 → 疑似失联 for the people `part` (unreached; none of them 疑似 or 失联 when
    read): a row for those without one, the 正常 rows moved, one history row each."""
    rows = dict(
        await ContactLadder.filter(person_id__in=part)
        .select_for_update()
        .using_db(conn)
        .values_list("person_id", "stage")
    )
    normal = [pid for pid in part if rows.get(pid) == NORMAL]
    fresh = [pid for pid in part if pid not in rows]
    at = driver_time(conn, now.astimezone(UTC))

    def seen(pid: int) -> Any:
        return driver_time(conn, last[pid].astimezone(UTC)) if last[pid] else None

    m = placeholders(conn, 5)
    if normal:
        await conn.execute_many(
            f"UPDATE contact_ladder SET stage = {m[0]}, since = {m[1]}, last_contact_at = "
            f"{m[2]} WHERE person_id = {m[3]} AND stage = {m[4]}",
            [[SUSPECTED, at, seen(pid), pid, NORMAL] for pid in normal],
        )
    if fresh:
        await conn.execute_many(
            "INSERT INTO contact_ladder (person_id, stage, since, last_contact_at) "
            f"VALUES ({', '.join(m[:4])})",
            [[pid, SUSPECTED, at, seen(pid)] for pid in fresh],
        )
    moved = normal + fresh
    if moved:
        await conn.execute_many(
            "INSERT INTO ladder_event (person_id, from_stage, to_stage, reason, via, note, "
            f"created_at) VALUES ({', '.join(placeholders(conn, 7))})",
            [[pid, NORMAL, SUSPECTED, "auto", "", "", at] for pid in moved],
        )
    return moved


STEP = 250  # rows built and inserted between two awaits (~20 ms of CPU)


@dataclass(frozen=True, slots=True)
class Rung:
    """A member on the ladder as officers and tasks see it (read as plain values: a
    district's first run may put tens of thousands on the ladder at once)."""

    person_id: int
    name: str
    stage: str
    since: datetime
    last_contact_at: datetime | None
    branch_id: int | None  # home branch, else the organisation checked in to
    unreached: int
    confirm_due: bool

    @property
    def last_month(self) -> str:
        return contact_month(self.last_contact_at)


RUNG_FIELDS = (
    "person_id", "person__real_name", "person__display_name", "person__nickname",
    "person__phone", "stage", "since", "last_contact_at", "person__home_org_id",
    "person__local_org_id",
)  # fmt: skip


def _rungs(values: Iterable[tuple[Any, ...]], today: date, confirm_months: int) -> list[Rung]:
    out = []
    for pid, real, display, nick, phone, stage, since, last, home, local_org in values:
        n = unreached_months(local(last).date(), today) if last else 0
        name = Person.name_of(pid, real, display, nickname=nick, phone=phone)
        out.append(
            Rung(pid, name, stage, since, last, home or local_org, n,
                 may_confirm(stage, n, confirm_months))
        )  # fmt: skip
    return out


async def rungs(
    now: datetime,
    paths: list[str],
    *,
    confirm_months: int = 6,
    limit: int = 50,
) -> tuple[list[Rung], int]:
    """Members on the ladder in scope, lost first, then the longest unreached: the first
    `limit` of them, and how many there are (two queries, whatever the district's size)."""
    q = ContactLadder.filter(scope_q(paths, "person__"), stage__in=(SUSPECTED, LOST))
    total = await q.count()
    values = (
        await q.order_by("stage", "last_contact_at", "person_id")  # "lost" before "suspected"
        .limit(limit)
        .values_list(*RUNG_FIELDS)
    )
    return _rungs(values, local(now).date(), confirm_months), total


@dataclass(frozen=True, slots=True)
class Task:
    rung: Rung
    contact: bool  # 请联系: the member became 疑似失联 this month
    confirm: bool  # 请确认: they reached `confirm_months` this month (or came in beyond it)


async def tasks_due(now: datetime, confirm_months: int = 6) -> list[Task]:
    """This month's tasks only, chosen in SQL: members who moved to 疑似失联 this month, and
    members who reached `confirm_months` unreached months this month."""
    today = local(now).date()
    month_start = cutoff_for(today, 0)
    window = (cutoff_for(today, confirm_months + 1), cutoff_for(today, confirm_months))
    due = ContactLadder.filter(
        Q(since__gte=month_start)
        | Q(last_contact_at__gte=window[0], last_contact_at__lt=window[1]),
        stage=SUSPECTED,
    )
    # By person_id a page at a time: a district's first month is thousands of rows, and
    # turning them all into values in one go held the event loop for half a second.
    values: list[tuple[Any, ...]] = []
    while True:
        after = due.filter(person_id__gt=values[-1][0]) if values else due
        page = await after.order_by("person_id").limit(STEP).values_list(*RUNG_FIELDS)
        values += page
        if len(page) < STEP:
            break
    tasks = []
    for r in _rungs(values, today, confirm_months):
        new = r.since >= month_start
        in_window = r.last_contact_at is not None and window[0] <= r.last_contact_at < window[1]
        tasks.append(Task(r, new, r.confirm_due and (new or in_window)))
    return tasks


async def stage_of(person: Person) -> ContactLadder | None:
    return await ContactLadder.filter(person_id=person.id).first()


async def history(person: Person, limit: int = 10) -> list[LadderEvent]:
    return (
        await LadderEvent.filter(person_id=person.id)
        .select_related("actor")
        .order_by("-created_at", "-id")
        .limit(limit)
    )


async def confirm_lost(
    person: Person, by: Person, now: datetime, confirm_months: int = 6, note: str = ""
) -> ContactLadder:
    """书记确认失联：only a 疑似失联 member unreached `confirm_months` months."""
    row = await stage_of(person)
    stage = row.stage if row else NORMAL
    n = row.unreached(local(now).date()) if row else 0
    if row is None or not may_confirm(stage, n, confirm_months):
        raise DomainError(
            "ladder_cannot_confirm", name=person.name, stage=stage, months=n, need=confirm_months
        )
    if not await ContactLadder.filter(id=row.id, stage=SUSPECTED).update(stage=LOST, since=now):
        raise DomainError(
            "ladder_cannot_confirm", name=person.name, stage=LOST, months=n, need=confirm_months
        )
    await LadderEvent.create(
        person_id=person.id,
        from_stage=SUSPECTED,
        to_stage=LOST,
        reason="confirm",
        actor_id=by.id,
        note=note[:200],
        created_at=now,
    )
    row.stage, row.since = LOST, now
    return row


async def nearest_officers(orgs: Iterable[Any]) -> dict[int, list[int]]:
    """Per organisation: the officers of it, or of the nearest organisation above it that
    has any (one query for all)."""
    chains = {o.id: [int(x) for x in o.path.strip("/").split("/") if x][::-1] for o in orgs}
    wanted = {i for chain in chains.values() for i in chain}
    held: dict[int, list[int]] = {}
    grants = RoleGrant.filter(role="officer", org_id__in=list(wanted)).order_by("id")
    for org_id, person_id in await grants.values_list("org_id", "person_id"):
        held.setdefault(org_id, []).append(person_id)
    return {oid: next((held[i] for i in chain if i in held), []) for oid, chain in chains.items()}


@dataclass(frozen=True, slots=True)
class Contacts:
    """Who reaches a member: their grid member (if they live in a household that has
    one) and the officers of their branch (or the nearest organisation above with any)."""

    grid: list[int]
    branch: list[int]

    @property
    def task(self) -> list[int]:
        """The 请联系 task goes to the grid member, else the branch officers."""
        return self.grid or self.branch


async def contacts_for(people: list[Rung]) -> dict[int, Contacts]:
    from models.grids.households import Household

    grid: dict[int, list[int]] = {}
    for part in chunked(p.person_id for p in people):
        rows = await Household.filter(member_id__in=part, worker_id__isnull=False).values_list(
            "member_id", "worker_id"
        )
        for member_id, worker_id in rows:
            grid.setdefault(member_id, []).append(worker_id)
    branch_ids = sorted({p.branch_id for p in people if p.branch_id is not None})
    officers = await nearest_officers(await Organization.filter(id__in=branch_ids))
    return {
        p.person_id: Contacts(
            sorted(set(grid.get(p.person_id, []))),
            officers.get(p.branch_id, []) if p.branch_id is not None else [],
        )
        for p in people
    }
