"""诉求工单的规则，直接在模型上测（SQLite 与 PostgreSQL 各一遍）。"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from bot.demo import seed
from models.errors import DomainError
from models.people import Organization, Person
from models.requests import (
    RequestEvent,
    ServiceRequest,
    guess_category,
    monthly_figures,
)

# 2026-11-22 10:00 Asia/Shanghai
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture
async def world(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    people = {n: await Person.create(display_name=n) for n in ("居民", "书记", "科长", "别人")}
    return orgs, people


async def file(orgs, people, content="楼道灯坏了", now=T0, **kw) -> ServiceRequest:
    async with in_transaction():
        return await ServiceRequest.file(
            orgs["SQ001"], people["居民"], content, category="repair", now=now, **kw
        )


async def refused(coro) -> DomainError:
    with pytest.raises(DomainError) as info:
        await coro
    return info.value


async def test_number_and_due_time(world):
    orgs, people = world
    r1 = await file(orgs, people)
    r2 = await file(orgs, people)
    assert (r1.number, r2.number) == ("Q2611220001", "Q2611220002")
    assert r1.due_at == T0 + timedelta(hours=72)
    # 23:30 Beijing time on the 22nd is already the 23rd in Shanghai after midnight UTC+8:
    late = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 00:30 on the 23rd in Shanghai
    assert (await file(orgs, people, now=late)).number == "Q2611230001"


async def test_twenty_concurrent_filings_get_distinct_numbers(world):
    orgs, people = world
    made = await asyncio.gather(*(file(orgs, people, f"问题{i}") for i in range(20)))
    numbers = sorted(r.number for r in made)
    assert numbers == [f"Q261122{i:04d}" for i in range(1, 21)]


async def test_whole_lifecycle_with_events(world):
    orgs, people = world
    req = await file(orgs, people)
    await req.accept(people["书记"], chat="console:g1", now=T0 + timedelta(hours=1))
    await req.forward(orgs["BM01"], "需要城管处理", people["书记"], now=T0 + timedelta(hours=2))
    await req.accept(people["科长"], now=T0 + timedelta(hours=3))
    await req.close("已更换灯泡", people["科长"], now=T0 + timedelta(hours=4))
    await req.rate(5, "很及时", people["居民"], now=T0 + timedelta(hours=5))
    fresh = await ServiceRequest.get(id=req.id)
    assert (fresh.status, fresh.score, fresh.result) == ("rated", 5, "已更换灯泡")
    assert fresh.handler_id == people["科长"].id and fresh.assignee_org_id == orgs["BM01"].id
    events = await fresh.history()
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("filed", "", "received"),
        ("accept", "received", "in_progress"),
        ("forward", "in_progress", "forwarded"),
        ("accept", "forwarded", "in_progress"),
        ("close", "in_progress", "closed"),
        ("rate", "closed", "rated"),
    ]
    assert events[1].chat == "console:g1" and events[1].actor_id == people["书记"].id
    assert events[2].note == "需要城管处理" and events[2].org_id == orgs["BM01"].id


async def test_forwarding_twice(world):
    orgs, people = world
    partner = await Organization.create_in_tree("SH01", "爱心社工站", "partner", orgs["JD01"])
    req = await file(orgs, people)
    await req.accept(people["书记"], now=T0)
    await req.forward(orgs["BM01"], "先给城管", people["书记"], now=T0)
    await req.accept(people["科长"], now=T0)
    await req.forward(partner, "再给社工站", people["科长"], now=T0)
    assert (await ServiceRequest.get(id=req.id)).assignee_org_id == partner.id
    assert await RequestEvent.filter(request_id=req.id, action="forward").count() == 2


async def test_forward_straight_from_received(world):
    """派单: README's diagram allows received → forwarded, as 12345 hotlines dispatch."""
    orgs, people = world
    req = await file(orgs, people)
    await req.forward(orgs["BM01"], "城管的事", people["书记"], now=T0)
    fresh = await ServiceRequest.get(id=req.id)
    assert (fresh.status, fresh.assignee_org_id) == ("forwarded", orgs["BM01"].id)
    event = await RequestEvent.filter(request_id=req.id, action="forward").first()
    assert (event.from_status, event.to_status) == ("received", "forwarded")
    # the unit it went to takes it (or forwards again after taking it)
    err = await refused(req.forward(orgs["BM01"], "x", people["书记"], now=T0))
    assert err.code == "request_forward_same"


async def test_refused_transitions(world):
    orgs, people = world
    req = await file(orgs, people)
    # received: cannot close yet
    err = await refused(req.close("done", people["书记"], now=T0))
    assert err.code == "request_bad_state" and err.details["status"] == "received"
    await req.accept(people["书记"], now=T0)
    # forward only to a department or partner
    err = await refused(req.forward(orgs["SQ002"], "x", people["书记"], now=T0))
    assert err.code == "request_forward_kind"
    assert (await refused(req.close("  ", people["书记"], now=T0))).code == "request_need_text"
    await req.close("好了", people["书记"], now=T0)
    for coro in (
        req.accept(people["书记"], now=T0),
        req.reject("不行", people["书记"], now=T0),
        req.forward(orgs["BM01"], "x", people["书记"], now=T0),
        req.close("again", people["书记"], now=T0),
        req.urge(people["居民"], now=T0),
    ):
        err = await refused(coro)
        assert err.code == "request_bad_state" and err.details["status"] == "closed"
    # a refused transition writes no event
    assert await RequestEvent.filter(request_id=req.id).count() == 3


async def test_accepting_twice_names_the_holder(world):
    orgs, people = world
    req = await file(orgs, people)
    await req.accept(people["书记"], now=T0)
    other = await ServiceRequest.get(id=req.id)
    err = await refused(other.accept(people["别人"], now=T0))
    assert err.code == "request_taken" and err.details["handler_name"] == "书记"


async def test_two_accepts_racing_exactly_one_wins(world):
    orgs, people = world
    req = await file(orgs, people)
    copies = [await ServiceRequest.get(id=req.id) for _ in range(2)]

    async def accept(r, who):
        async with in_transaction():
            await r.accept(people[who], now=T0)

    results = await asyncio.gather(
        accept(copies[0], "书记"), accept(copies[1], "科长"), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 1 and errors[0].code == "request_taken"
    winner = "科长" if results[0] is errors[0] else "书记"
    assert errors[0].details["handler_name"] == winner
    assert await RequestEvent.filter(request_id=req.id, action="accept").count() == 1


async def test_rating_rules(world):
    orgs, people = world
    req = await file(orgs, people)
    assert (await refused(req.rate(5, "", people["居民"], now=T0))).code == "request_bad_state"
    await req.accept(people["书记"], now=T0)
    await req.close("好了", people["书记"], now=T0)
    assert (await refused(req.rate(5, "", people["别人"], now=T0))).code == "request_not_requester"
    for bad in (0, 6, -1):
        assert (
            await refused(req.rate(bad, "", people["居民"], now=T0))
        ).code == "request_bad_score"
    await req.rate(2, "太慢", people["居民"], now=T0)
    assert req.low_score
    err = await refused(req.rate(4, "", people["居民"], now=T0))
    assert err.code == "request_already_rated" and err.details["score"] == 2


async def test_reject_then_rate_and_reject_rules(world):
    orgs, people = world
    req = await file(orgs, people)
    assert (await refused(req.reject("", people["书记"], now=T0))).code == "request_need_text"
    await req.reject("不属于本社区", people["书记"], now=T0)
    assert (await ServiceRequest.get(id=req.id)).result == "不属于本社区"
    err = await refused(req.rate(5, "", people["居民"], now=T0))
    assert err.code == "request_bad_state" and err.details["status"] == "rejected"
    # in_progress may be rejected too
    req2 = await file(orgs, people)
    await req2.accept(people["书记"], now=T0)
    await req2.reject("无法办理", people["书记"], now=T0)
    assert req2.status == "rejected"


async def test_urge_once_a_day(world):
    orgs, people = world
    req = await file(orgs, people)
    assert (await refused(req.urge(people["别人"], now=T0))).code == "request_not_requester"
    await req.urge(people["居民"], now=T0 + timedelta(hours=1))
    err = await refused(req.urge(people["居民"], now=T0 + timedelta(hours=5)))
    assert err.code == "request_urged_today"
    # the next Shanghai day (T0 is 10:00; +14h is 00:00 next day)
    await req.urge(people["居民"], now=T0 + timedelta(hours=14))
    assert (await ServiceRequest.get(id=req.id)).urge_count == 2
    assert await RequestEvent.filter(request_id=req.id, action="urge").count() == 2


async def test_scope(world):
    orgs, people = world
    req = await ServiceRequest.by_number((await file(orgs, people)).number)

    class Officer:
        def __init__(self, *codes):
            self.paths = [orgs[c].path for c in codes]

        def is_officer_of(self, org):
            return any(org.path.startswith(p) for p in self.paths)

    req.check_officer(Officer("SQ001"))
    req.check_officer(Officer("JD01"))
    assert (await refused(_check(req, Officer("SQ002")))).code == "request_not_your_scope"
    assert (await refused(_check(req, Officer("BM01")))).code == "request_not_your_scope"
    await req.accept(people["书记"], now=T0)
    await req.forward(orgs["BM01"], "x", people["书记"], now=T0)
    req = await ServiceRequest.by_number(req.number)
    req.check_officer(Officer("BM01"))
    assert (await refused(ServiceRequest.by_number("Q2611229999"))).code == "request_unknown"
    assert (await refused(ServiceRequest.by_number("abc"))).code == "request_unknown"


async def _check(req, officer):
    req.check_officer(officer)


def test_guess_category():
    keywords = {"repair": ["漏水", "维修", "灯"], "sanitation": ["垃圾", "卫生"]}
    assert guess_category("楼道灯坏了需要维修", keywords) == "repair"
    assert guess_category("垃圾没人清理", keywords) == "sanitation"
    assert guess_category("随便说说", keywords) == "other"


async def test_monthly_figures_against_hand_computed_values(world):
    orgs, people = world
    nov = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 2 Nov 10:00 Shanghai
    # Filed in October, closed in November (counts as closed in November, not received).
    old = await file(orgs, people, now=datetime(2026, 10, 30, 2, 0, tzinfo=UTC))
    await old.accept(people["书记"], now=nov)
    await old.close(
        "ok", people["书记"], now=nov + timedelta(hours=10)
    )  # 82 h (30 Oct 10:00 → 2 Nov 20:00), late
    # Repair, closed in 10 h, on time, rated 5.
    a = await file(orgs, people, now=nov)
    await a.accept(people["书记"], now=nov)
    await a.close("ok", people["书记"], now=nov + timedelta(hours=10))
    await a.rate(5, "", people["居民"], now=nov + timedelta(hours=11))
    # Sanitation (48 h limit), closed after 60 h: late, rated 2.
    async with in_transaction():
        b = await ServiceRequest.file(
            orgs["WG01"], people["居民"], "垃圾", category="sanitation", now=nov
        )
    await b.accept(people["书记"], now=nov)
    await b.close("ok", people["书记"], now=nov + timedelta(hours=60))
    await b.rate(2, "", people["居民"], now=nov + timedelta(hours=61))
    # Rejected, and one still open.
    c = await file(orgs, people, now=nov)
    await c.reject("no", people["书记"], now=nov + timedelta(hours=1))
    await file(orgs, people, now=nov)
    # Another community's request does not count.
    async with in_transaction():
        await ServiceRequest.file(orgs["SQ002"], people["居民"], "x", now=nov)

    fig = await monthly_figures(orgs["SQ001"], now=datetime(2026, 11, 20, tzinfo=UTC))
    assert fig["received"] == 4  # a, b, c, open one
    assert fig["closed"] == 3  # old, a, b
    assert fig["rejected"] == 1
    assert fig["on_time_pct"] == round(100 * 1 / 3, 1)  # only a
    assert fig["avg_hours"] == round((82 + 10 + 60) / 3, 1)
    assert fig["avg_score"] == 3.5 and fig["rated"] == 2
    assert fig["by_category"] == [
        ("repair", {"received": 3, "closed": 2}),
        ("sanitation", {"received": 1, "closed": 1}),
    ]
    empty = await monthly_figures(orgs["SQ002"], now=datetime(2026, 12, 5, tzinfo=UTC))
    assert empty["received"] == 0 and empty["on_time_pct"] is None
