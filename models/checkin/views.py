"""给党务工作者看的：范围内的党员、失联、查人、统计；手机号按范围显示完整或打码。

Counted and filtered by the database (tuned for a district of 100,000 people: bench/,
tests/test_bench_scale.py): never a list of ids, never whole rows where values do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count

from bot.text import fold_width
from models import widecache
from models.checkin.checkins import CheckIn
from models.checkin.registration import MemberRegistration
from models.checkin.rules import (
    FLOW_IN,
    IN_SERVICE,
    MEMBER_RELATIONS,
    REGISTRATION,
    RELATION_POCKET,
    lost_cutoff,
)
from models.people import Person, orgs_under
from models.people import scope_q as org_scope_q


def scope_q(paths: list[str]) -> Q:
    """People whose home branch or current local organisation is under one of `paths`, and
    those whose branch is outside the system and whose registration an organisation under
    them confirmed (they stay its members wherever they check in)."""
    confirmed = REGISTRATION.target("confirm")
    outside = MemberRegistration.filter(org_scope_q(paths), status=confirmed, home_org_id=None)
    return org_scope_q(paths, "home_org_id", "local_org_id") | Q(
        id__in=Subquery(outside.values("person_id"))
    )


def unseen_q(days: int, now: datetime) -> Q:
    """People not seen for `days` (rules.is_lost, asked of the database)."""
    return Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=lost_cutoff(now, days))


def lost_q(paths: list[str], days: int, now: datetime) -> Q:
    """Members in scope not seen (any message, registration, check-in, leave, transfer)
    for `days`."""
    return scope_q(paths) & unseen_q(days, now) & Q(relation_status__in=MEMBER_RELATIONS)


async def lost_contact(paths: list[str], days: int, now: datetime) -> list[Person]:
    """Members not seen (any message, registration, check-in, leave, transfer) for `days`."""
    return (
        await Person.filter(lost_q(paths, days, now))
        .select_related("home_org", "local_org")
        .order_by("id")
    )


async def lost_contact_names(paths: list[str], days: int, now: datetime) -> list[tuple[int, str]]:
    """(id, name) of the same people, without loading whole rows (a district's thousands
    for the monthly reminder)."""
    rows = (
        await Person.filter(lost_q(paths, days, now))
        .order_by("id")
        .values_list(*Person.NAME_FIELDS)
    )
    return [(row[0], Person.name_from(row)) for row in rows]


async def find_people(paths: list[str], query: str) -> list[Person]:
    """By name or platform nickname (part of it) or by the last digits of the mobile
    number."""
    query = fold_width(query or "").strip()
    if not query:
        return []
    q = Q(phone__endswith=query) if query.isdigit() else Person.name_q(query, contains=True)
    return (
        await Person.filter(scope_q(paths), q)
        .select_related("home_org", "local_org")
        .order_by("id")
        .limit(20)
    )


async def summary(paths: list[str], days: int, now: datetime) -> dict[str, int]:
    """registered · pocket · flowing in (open check-ins) · flowing out · lost contact.

    Counted by the database (one query for the people, three for the check-ins), so a
    district's 50,000 members are never loaded; a street's or the district's figures are
    reused for a minute (models/widecache.py)."""
    key = ("members", tuple(sorted(paths)), days)
    return await widecache.figures(key, paths, now, lambda: _summary(paths, days, now))


def _scope_parts(paths: list[str]) -> list[Q]:
    """scope_q as three disjoint conditions joined by AND only: home branch in scope; else
    local organisation in scope; else a confirmed registration from outside. An OR of
    subqueries makes PostgreSQL read every person (25 ms for a community of 600); SQLite
    answers the OR from its indexes in one query (under a millisecond), so it keeps it."""
    if connections.get("default").capabilities.dialect != "postgres":
        return [scope_q(paths)]
    orgs = orgs_under(paths)
    home_out = Q(home_org_id__isnull=True) | ~Q(home_org_id__in=orgs)
    local_out = Q(local_org_id__isnull=True) | ~Q(local_org_id__in=orgs)
    confirmed = REGISTRATION.target("confirm")
    outside = MemberRegistration.filter(org_scope_q(paths), status=confirmed, home_org_id=None)
    return [
        Q(home_org_id__in=orgs),
        Q(local_org_id__in=orgs) & home_out,
        Q(id__in=Subquery(outside.values("person_id"))) & home_out & local_out,
    ]


async def _summary(paths: list[str], days: int, now: datetime) -> dict[str, int]:
    people = {"registered": 0, "pocket": 0, "lost": 0}
    for part in _scope_parts(paths):
        row = (
            await Person.filter(part, relation_status__in=MEMBER_RELATIONS)
            .annotate(
                registered=Count("id"),
                pocket=Count("id", _filter=Q(relation_status=RELATION_POCKET)),
                lost=Count("id", _filter=unseen_q(days, now)),
            )
            .values("registered", "pocket", "lost")
        )[0]
        for k in people:
            people[k] += row[k] or 0
    here = CheckIn.filter(org_scope_q(paths))
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
