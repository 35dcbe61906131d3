"""The district generator (models/district) at a tiny scale: the counts it promises, and data
the models' own rules accept and keep working on (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.identity import IdentityService
from models.activities import Activity, PointsEntry, Signup, TimeBankEntry, balance
from models.broadcasts import Broadcast
from models.checkin import CheckIn, MemberRegistration
from models.deliveries import DELIVERY_STATUSES, Delivery
from models.district import NotEmpty, generate
from models.district.plan import Plan
from models.people import GroupBinding, Identity, Organization, Person, RoleGrant
from models.requests import (
    NUMBER_RE,
    STATUSES,
    RequestCounter,
    RequestEvent,
    ServiceRequest,
)

S = 0.01
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 Asia/Shanghai


@pytest.fixture
async def district(db):
    counts = await generate(S, now=NOW)
    return counts, Plan(S, NOW)


async def test_counts(district):
    counts, plan = district
    kinds = Counter(await Organization.all().values_list("kind", flat=True))
    assert (kinds["district"], kinds["street"], kinds["community"], kinds["branch"]) == (
        1,
        1,
        1,
        10,
    )
    assert await Person.all().count() == 1000 == await Identity.all().count()
    members = await RoleGrant.filter(role="member").count()
    assert members == 500
    assert await Person.filter(relation_status__in=("registered", "unregistered")).count() == 500
    flowing = await Person.filter(flow_status__in=("flow_in", "in_service", "flow_out")).count()
    assert flowing == 200
    assert await GroupBinding.all().count() == plan.groups == 10 + 9 + 9 + 40
    assert await Activity.all().count() == 30
    assert 2000 <= await Signup.all().count() <= 2800  # 240,000 × S, give or take the pools
    assert await ServiceRequest.all().count() == 300
    assert set(await ServiceRequest.all().values_list("status", flat=True)) == set(STATUSES)
    assert await Delivery.all().count() > 600
    assert counts["person"] == 1000 and counts["service_request"] == 300


async def test_tree_and_people_follow_the_rules(district):
    orgs = {o.id: o for o in await Organization.all()}
    for o in orgs.values():
        parent = orgs.get(o.parent_id)
        assert o.path == f"{parent.path if parent else '/'}{o.id}/"
    # A confirmed registration is written into the person, as MemberRegistration.confirm does.
    for reg in await MemberRegistration.filter(status="confirmed").select_related("person"):
        p = reg.person
        assert (p.real_name, p.phone, p.home_org_id) == (reg.real_name, reg.phone, reg.home_org_id)
        assert p.relation_status == ("registered" if reg.relation_handed else "unregistered")
    pending = await MemberRegistration.filter(status="pending")
    assert pending and all(r.pending_key == str(r.person_id) for r in pending)
    # Open check-ins hold their key and the person's local org; closed ones neither.
    for c in await CheckIn.all().select_related("person"):
        if c.left_at is None:
            assert c.open_key == f"{c.person_id}:{c.org_id}"
            assert (c.person.local_org_id, c.person.flow_status) == (c.org_id, c.kind)
        else:
            assert c.open_key is None and c.person.flow_status == "flow_out"
    # Every officer can be resolved by the identity service with the role in its tree.
    grant = await RoleGrant.filter(role="officer", org__kind="street").first()
    ident = await Identity.get(person_id=grant.person_id)
    caller = await IdentityService().resolve(ident.platform, ident.user_id)
    assert caller.is_officer_of(await Organization.get(id=grant.org_id))


async def test_activities_and_ledgers_follow_the_rules(district):
    for act in await Activity.all():
        rows = await Signup.filter(activity_id=act.id)
        confirmed = sum(1 for s in rows if s.status == "confirmed")
        assert act.confirmed_count == confirmed
        if act.capacity:
            assert confirmed <= act.capacity
            assert not any(s.status == "waitlisted" for s in rows) or confirmed == act.capacity
        for s in rows:
            assert s.active_key == (None if s.status == "cancelled" else f"{act.id}:{s.person_id}")
            if s.attended_at is not None:
                assert act.ends_at <= NOW and s.status == "confirmed"
                assert await PointsEntry.exists(person_id=s.person_id, ref=f"act:{act.id}")
                if act.volunteer_hours > 0:
                    assert await TimeBankEntry.exists(ref=f"act:{act.id}:{s.person_id}")
    redeemers = await TimeBankEntry.filter(kind="redeem").values_list("person_id", flat=True)
    assert redeemers
    for pid in redeemers:
        assert await balance(pid) >= 0


async def test_requests_follow_the_rules(district):
    events: dict[int, list[RequestEvent]] = {}
    for e in await RequestEvent.all().order_by("created_at", "id"):
        events.setdefault(e.request_id, []).append(e)
    for req in await ServiceRequest.all():
        chain = events[req.id]
        assert NUMBER_RE.match(req.number)
        assert chain[0].action == "filed" and chain[-1].to_status == req.status
        for before, after in itertools.pairwise(chain):
            assert after.from_status == before.to_status
        assert (req.score is not None) == (req.status == "rated")
        assert (req.closed_at is not None) == (req.status in ("closed", "rated"))
        assert (req.handler_id is not None) == any(e.action == "accept" for e in chain)
    days = Counter(n[1:7] for n in await ServiceRequest.all().values_list("number", flat=True))
    assert {c.day: c.seq for c in await RequestCounter.all()} == dict(days)
    statuses = set(await Delivery.all().values_list("status", flat=True))
    assert statuses <= set(DELIVERY_STATUSES)


async def test_the_models_keep_working_on_it(district):
    """New rows get fresh ids (PostgreSQL's sequences were moved on) and numbers, and the
    transitions run on generated rows."""
    org = await Organization.filter(kind="community").first()
    person = await Person.create(display_name="新来的")
    req = await ServiceRequest.file(org, person, "路灯不亮", now=NOW)
    assert req.number.startswith("Q261118") and req.number > max(
        await ServiceRequest.filter(number__startswith="Q261118")
        .exclude(id=req.id)
        .values_list("number", flat=True)
    )
    waiting = await ServiceRequest.filter(status="received").select_related("org").first()
    top = await RoleGrant.filter(role="officer", org__kind="district").first()
    officer = await Person.get(id=top.person_id)
    await waiting.accept(officer, now=NOW)
    assert (await ServiceRequest.get(id=waiting.id)).status == "in_progress"
    act = await (
        Activity.filter(status="open", starts_at__gt=NOW + timedelta(hours=2))
        .select_related("org")
        .first()
    )
    ident = await Identity.get(person_id=officer.id)
    caller = await IdentityService().resolve(ident.platform, ident.user_id)
    before = act.confirmed_count
    await act.join(person, caller, now=NOW)
    assert (await Activity.get(id=act.id)).confirmed_count in (before, before + 1)
    with pytest.raises(NotEmpty):
        await generate(S, now=NOW)


async def test_broadcast_texts_render_as_the_broadcaster_fills_them(district):
    """Every generated broadcast renders with the variables a firing gives it ({{ org }} is
    the organisation's name, a string): `{{ org.name }}` made the firing skip the text."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    broadcasts = await Broadcast.all().select_related("org")
    assert broadcasts
    for b in broadcasts:
        text = env.from_string(b.content).render(org=b.org.name if b.org else "")
        assert "{" not in text
        if "org" in b.content:
            assert b.org.name in text


@pytest.fixture
def config(db_url: str):
    from tests.conftest import make_config

    return make_config(db_url, activities={"page_size": 4})


async def test_district_views_through_chat(console):
    """A district officer's views on the generated district: the figures are those of the
    database, /三会一课 comes a page of branches at a time, /排行 ranks by SQL."""
    from tests.conftest import grant_officer

    await generate(S)
    await grant_officer("chief", "XQ")
    stats = await console.one("/党员统计", user="chief")
    assert stats.startswith("党员情况：\n登记党员 500 人")
    first = await console.one("/三会一课", user="chief")
    assert first.startswith("三会一课落实情况（第 1/3 页，下一页：/三会一课 2）")
    assert first.count("】党员 ") == 4
    last = await console.one("/三会一课 3", user="chief")
    assert last.count("】党员 ") == 2 and "XQ" not in last
    rank = await console.one("/排行", user="chief")
    assert rank.startswith("新区区委 · 本月积分排行")
    queue = await console.one("/工单", user="chief")
    open_n = await ServiceRequest.filter(
        status__in=("received", "in_progress", "forwarded", "awaiting")
    ).count()
    assert queue.startswith(f"待办工单 {open_n} 件")
