"""党员与群众：花名册搜索、分类（正式/预备、流入/流出、口袋党员、失联）、失联名单、一个人的档案。"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from tortoise.expressions import Q, RawSQL

from bot.web.common import kept, officer_of, page, paged, pager, runtime_of
from handlers.workbench import figures
from models.activities import Signup
from models.checkin import (
    CheckIn,
    MemberRegistration,
    TransferRequest,
    find_people,
    scope_q,
)
from models.checkin.views import _scope_parts as scope_parts
from models.grids import ladder
from models.people import Person, RoleGrant
from models.requests import ServiceRequest

routes = web.RouteTableDef()
# Category → who is in it (among the registered members in scope).
CATEGORIES = {
    "all": Q(),
    "full": Q(member_type="full"),
    "probationary": Q(member_type="probationary"),
    "flow_in": Q(flow_status="flow_in"),
    "flow_out": Q(flow_status="flow_out"),
    "in_service": Q(flow_status="in_service"),
    "pocket": Q(relation_status="unregistered"),
    "lost": Q(ladder__stage__in=("suspected", "lost")),
}


# The same categories as CATEGORIES, counted in one pass over the members in scope.
SUMS = {
    "full": "member_type = 'full'",
    "probationary": "member_type = 'probationary'",
    "flow_in": "flow_status = 'flow_in'",
    "flow_out": "flow_status = 'flow_out'",
    "in_service": "flow_status = 'in_service'",
    "pocket": "relation_status = 'unregistered'",
}


async def category_counts(paths: list[str], wide: bool) -> dict[str, int]:
    """The members in scope per category. A narrow scope is counted over its three disjoint
    parts (models.checkin.views: AND-only, so PostgreSQL reads a community's rows by index
    rather than every person) added up; a wide one (most of the people) in one pass."""
    t = Person._meta.db_table
    sums = {k: RawSQL(f"SUM(CASE WHEN {t}.{cond} THEN 1 ELSE 0 END)") for k, cond in SUMS.items()}
    counts = dict.fromkeys(["all", *SUMS], 0)
    for part in [scope_q(paths)] if wide else scope_parts(paths):
        members = Person.filter(part, ladder.members_q())
        rows = await members.annotate(n=RawSQL("COUNT(*)"), **sums).values("n", *SUMS)
        row = rows[0] if rows else {}
        counts["all"] += int(row.get("n") or 0)
        for k in SUMS:
            counts[k] += int(row.get(k) or 0)
    counts["lost"] = await ladder.ContactLadder.filter(
        ladder.scope_q(paths, "person__"),
        person__relation_status__in=ladder.MEMBER_RELATIONS,
        stage__in=("suspected", "lost"),
    ).count()
    return counts


@routes.get("/people")
async def people(request: web.Request) -> web.Response:
    officer = officer_of(request)
    paths = officer.paths
    members = Person.filter(scope_q(paths), ladder.members_q())
    category = request.query.get("category", "all")
    if category not in CATEGORIES:
        category = "all"
    as_of = None
    if await figures.is_big(paths):  # a district's counts read all its members: kept
        key = ("people", *paths)
        counts, as_of = await kept(
            request, key, figures.FIGURES_SECONDS, lambda: category_counts(paths, wide=True)
        )
    else:
        counts = await category_counts(paths, wide=False)
    query = request.query.get("q", "").strip()
    rungs: list[Any] = []
    if query:
        # The same search as /查人: part of a name, or the last digits of a mobile number.
        rows = await find_people(paths, query)
        p = pager(request, len(rows), size=max(len(rows), 1))
    elif category == "lost":
        # The lost-contact list as /失联 shows it (models/grids/ladder.py), lost first.
        p = pager(request, counts["lost"])
        now = runtime_of(request).clock.now()
        rungs, _ = await ladder.rungs(now, paths, limit=p.offset + p.size)
        rungs = rungs[p.offset :]
        found = await Person.filter(id__in=[r.person_id for r in rungs]).select_related(
            "home_org", "local_org"
        )
        by_id = {x.id: x for x in found}
        rows = [by_id[r.person_id] for r in rungs]
    else:
        # counts[category] is this list's length, counted by category_counts.
        p = pager(request, counts[category])
        selected = members.filter(CATEGORIES[category])
        rows = await paged(selected, p, ("id",), "home_org", "local_org")
    return await page(
        request,
        "people.html",
        rows=rows,
        rungs=rungs,
        counts=counts,
        category=category,
        query=query,
        pager=p,
        as_of=as_of,
    )


@routes.get(r"/people/{id:\d+}")
async def person(request: web.Request) -> web.Response:
    officer = officer_of(request)
    who = await Person.filter(id=int(request.match_info["id"])).first()
    if who is not None:
        await who.fetch_related("home_org", "local_org")
    regs = (
        await MemberRegistration.filter(person_id=who.id).select_related("org").order_by("-id")
        if who
        else []
    )
    # In scope: an officer over the person's home branch or local organisation, or over an
    # organisation the person asked to register with (the officer who confirms it).
    if who is None or not (
        who.covered_by(officer.caller) or any(officer.caller.is_officer_of(r.org) for r in regs)
    ):
        text = runtime_of(request).templates.render("refused", code="web_person_scope")
        return await page(request, "refused.html", status=403, text=text)
    return await page(
        request,
        "person.html",
        who=who,
        regs=regs,
        roles=await RoleGrant.filter(person_id=who.id).select_related("org"),
        checkins=await CheckIn.filter(person_id=who.id)
        .select_related("org")
        .order_by("-checked_in_at")
        .limit(20),
        transfers=await TransferRequest.filter(person_id=who.id)
        .select_related("from_org", "to_org")
        .order_by("-id")
        .limit(10),
        requests=await ServiceRequest.filter(requester_id=who.id).order_by("-id").limit(10),
        attended=await Signup.filter(person_id=who.id, attended_at__isnull=False)
        .select_related("activity")
        .order_by("-attended_at")
        .limit(10),
        stage=await ladder.stage_of(who),
        ladder_events=await ladder.history(who),
    )
