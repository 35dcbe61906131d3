"""诉求的后续规则（工作日时限、待补充、回访、转单限制、督办、附图），在模型上测，两种数据库。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from tortoise.transactions import in_transaction

from bot.identity import OrgView
from bot.templates import Templates
from models.errors import DomainError
from models.people import Organization
from models.requests import (
    RequestEvent,
    ServiceRequest,
    expire_visits,
    monthly_figures,
    visit_choice,
)
from models.workdays import TZ
from tests import test_requests_model
from tests.test_requests_model import refused

# Tuesday 29 September 2026, 10:00 in Beijing: National Day (1–7 October) is ahead.
T0 = datetime(2026, 9, 29, 10, tzinfo=TZ).astimezone(UTC)


world = test_requests_model.world  # the same fixture: the demo tree and four people


def bj(m: int, d: int, hh: int = 0) -> datetime:
    return datetime(2026, m, d, hh, tzinfo=TZ).astimezone(UTC)


async def file(orgs, people, now=T0, limit="3工作日") -> ServiceRequest:
    async with in_transaction():
        req = await ServiceRequest.file(
            orgs["SQ001"], people["居民"], "楼道灯坏了", category="repair", now=now,
            hours={"repair": limit},
        )  # fmt: skip
    return await ServiceRequest.by_number(req.number)


async def actions(req: ServiceRequest) -> list[tuple[str, str]]:
    return [(e.action, e.note) for e in await req.history()]


async def test_working_day_deadline_skips_national_day(world):
    orgs, people = world
    req = await file(orgs, people)
    # 30 Sep, then 8 and 9 October (1–7 October are the holiday)
    assert req.due_at == bj(10, 9, 10) and req.workdays
    hours = await file(orgs, people, limit=72)
    assert hours.due_at == T0 + timedelta(hours=72) and not hours.workdays
    assert req.is_overdue(bj(10, 8, 12)) is False
    assert req.is_overdue(bj(10, 9, 11)) is True


async def test_waiting_for_the_requester_pauses_the_clock(world):
    orgs, people = world
    req = await file(orgs, people)
    await req.accept(people["书记"], now=T0)
    err = await refused(req.ask_requester("几楼？", people["别人"], now=T0))
    assert err.code == "request_not_handler"
    assert (
        await refused(req.ask_requester(" ", people["书记"], now=T0))
    ).code == "request_need_text"
    await req.ask_requester("几单元几楼？", people["书记"], now=bj(9, 30, 10))
    fresh = await ServiceRequest.get(id=req.id)
    assert fresh.status == "awaiting" and fresh.paused_at == bj(9, 30, 10)
    # long after the due time, a paused request is not overdue
    assert not fresh.is_overdue(bj(10, 20))
    err = await refused(fresh.supplement("2单元", people["别人"], now=T0))
    assert err.code == "request_not_requester"
    # answered on 12 October 09:00: the two working days left (30 Sep 10:00 → 9 Oct 10:00)
    # count from there: 12 Oct 09:00 → 14 Oct 09:00
    await fresh.supplement("2单元5楼", people["居民"], now=bj(10, 12, 9))
    again = await ServiceRequest.get(id=req.id)
    assert again.status == "in_progress" and again.paused_at is None
    assert again.due_at == bj(10, 14, 9)
    assert (await refused(again.supplement("再说一句", people["居民"], now=T0))).code == (
        "request_not_awaiting"
    )
    assert await actions(again) == [
        ("filed", ""),
        ("accept", ""),
        ("ask", "几单元几楼？"),
        ("answer", "2单元5楼"),
    ]


async def test_closing_while_waiting_ends_the_pause_and_starts_the_visit(world):
    orgs, people = world
    req = await file(orgs, people, limit=48)
    await req.accept(people["书记"], now=T0)
    await req.ask_requester("在家吗？", people["书记"], now=T0 + timedelta(hours=1))
    await req.close("已修好", people["书记"], now=T0 + timedelta(hours=11), visit_hours=24)
    fresh = await ServiceRequest.get(id=req.id)
    assert fresh.due_at == T0 + timedelta(hours=58) and fresh.paused_at is None
    assert fresh.visit == "asked" and fresh.visit_due_at == T0 + timedelta(hours=35)
    assert not fresh.is_overdue(T0 + timedelta(days=30))


@pytest.mark.parametrize(("text", "choice"), [("1", 1), ("3。", 3), ("基本满意", 2), ("好", None)])
def test_visit_choice(text, choice):
    words = Templates().commands["request_labels"]["visit"]  # 满意 / 基本满意 / 不满意
    assert visit_choice(text, words) == choice


async def test_return_visit_answers_once_and_3_reopens(world):
    orgs, people = world
    a, b = await file(orgs, people), await file(orgs, people)
    for req in (a, b):
        await req.accept(people["书记"], now=T0)
        await req.close("已修好", people["书记"], now=T0 + timedelta(hours=1))
    assert not await a.answer_visit(2, people["居民"], now=T0 + timedelta(hours=2))
    assert (await refused(a.answer_visit(1, people["居民"], now=T0))).code == "request_visit_closed"
    assert (
        await refused(b.answer_visit(1, people["别人"], now=T0))
    ).code == "request_not_requester"
    assert (await refused(b.answer_visit(4, people["居民"], now=T0))).code == "request_bad_visit"
    assert await b.answer_visit(3, people["居民"], now=T0 + timedelta(hours=2))
    reopened = await ServiceRequest.get(id=b.id)
    assert reopened.status == "in_progress" and reopened.handler_id == people["书记"].id
    assert reopened.closed_at is None and reopened.visit == "unsatisfied"
    assert (await actions(reopened))[-2:] == [("visit", "unsatisfied"), ("reopen", "")]
    # closed again: a second visit
    await reopened.close("换了整条线路", people["书记"], now=T0 + timedelta(hours=5))
    assert (await ServiceRequest.get(id=b.id)).visit == "asked"


async def test_no_answer_is_recorded_as_no_visit_never_as_satisfied(world):
    orgs, people = world
    S0 = bj(11, 10, 10)  # a month with the whole visit window in it
    a, b, c = [await file(orgs, people, now=S0) for _ in range(3)]
    for req in (a, b, c):
        await req.accept(people["书记"], now=S0)
        await req.close("已修好", people["书记"], now=S0, visit_hours=48)
    await a.answer_visit(1, people["居民"], now=S0 + timedelta(hours=1))
    await b.answer_visit(3, people["居民"], now=S0 + timedelta(hours=1))
    assert await expire_visits(S0 + timedelta(hours=47)) == []
    expired = await expire_visits(S0 + timedelta(hours=48))
    assert [r.id for r in expired] == [c.id]
    assert await expire_visits(S0 + timedelta(hours=49)) == []  # once
    assert (await ServiceRequest.get(id=c.id)).visit == "none"
    assert (
        await refused(c.answer_visit(1, people["居民"], now=S0 + timedelta(hours=50)))
    ).code == "request_visit_closed"
    assert await RequestEvent.filter(request_id=c.id, action="visit_none").count() == 1
    f = await monthly_figures(orgs["SQ001"], now=S0 + timedelta(hours=50))
    # three visits ended: two answered (1 satisfied, 1 not), one without answer
    assert (f["visits_ended"], f["visits_answered"]) == (3, 2)
    assert f["visit_rate_pct"] == 66.7 and f["satisfied_pct"] == 50.0
    # the same from the street and the district above (PostgreSQL: their statement takes
    # the fixed values as parameters and is planned per call; a community's has them
    # written in)
    for wide in ("JD01", "DEMO"):
        assert orgs[wide].kind in ("street", "district")
        w = await monthly_figures(orgs[wide], now=S0 + timedelta(hours=50))
        assert (w["visits_ended"], w["visits_answered"], w["satisfied_pct"]) == (3, 2, 50.0)


async def test_forwarding_guard(world):
    orgs, people = world
    bm2 = await Organization.create_in_tree("BM02", "街道民政科", "department", orgs["JD01"])
    req = await file(orgs, people)
    due = req.due_at
    await req.accept(people["书记"], now=T0)
    await req.forward(orgs["BM01"], "城管", people["书记"], max_forwards=3, now=T0)
    assert not req.forwarded_back
    await req.accept(people["科长"], now=T0)
    # back to the community it came from: a reason is needed, and it is a "back"
    err = await refused(req.forward(orgs["SQ001"], " ", people["科长"], max_forwards=3, now=T0))
    assert err.code == "request_forward_back_reason"
    await req.forward(orgs["SQ001"], "不归我们管", people["科长"], max_forwards=3, now=T0)
    assert req.forwarded_back
    await req.accept(people["书记"], now=T0)
    await req.forward(bm2, "民政", people["书记"], max_forwards=3, now=T0)
    await req.accept(people["科长"], now=T0)
    err = await refused(req.forward(orgs["BM01"], "再试", people["科长"], max_forwards=3, now=T0))
    assert err.code == "request_forward_limit" and err.details["limit"] == 3
    # the deadline kept running across the forwards
    assert (await ServiceRequest.get(id=req.id)).due_at == due


def caller_of(*orgs: Organization, admin: bool = False):
    views = [OrgView.of(o) for o in orgs]
    return SimpleNamespace(officer_orgs=lambda: views, is_admin=admin)


async def test_supervision_by_a_parent_organisation_only(world):
    orgs, people = world
    req = await file(orgs, people)
    assert req.check_supervisor(caller_of(orgs["JD01"])) is None
    assert req.check_supervisor(caller_of(orgs["DEMO"])) is None
    for own in (orgs["SQ001"], orgs["SQ002"]):
        with pytest.raises(DomainError) as info:
            req.check_supervisor(caller_of(own))
        assert info.value.code == "request_not_supervisor"
    await req.supervise("周五前办结", people["书记"], now=T0)
    assert (await actions(req))[-1] == ("supervise", "周五前办结")
    assert (await refused(req.supervise("", people["书记"], now=T0))).code == "request_need_text"


async def test_overdue_escalation_is_recorded_once(world):
    orgs, people = world
    req = await file(orgs, people)
    late = req.due_at + timedelta(hours=1)
    assert await req.escalate_once(late)
    assert not await req.escalate_once(late + timedelta(hours=1))
    assert await RequestEvent.filter(request_id=req.id, action="escalate").count() == 1


async def test_overdue_requests_escalate_in_chunks_each_once(world):
    """The first tick after an upgrade: many at once, two statements a chunk; one already
    escalated and one no longer running are left alone, and a second call does nothing."""
    orgs, people = world
    reqs = [await file(orgs, people) for _ in range(5)]
    late = reqs[0].due_at + timedelta(hours=1)
    assert await reqs[0].escalate_once(late - timedelta(minutes=30))
    await reqs[1].reject("重复提交", people["书记"], now=T0 + timedelta(hours=1))
    ids = [r.id for r in reqs]
    assert await ServiceRequest.escalate_many(ids, late, chunk=2) == set(ids[2:])
    marks = dict(await ServiceRequest.filter(id__in=ids).values_list("id", "escalated_at"))
    assert [marks[i] for i in ids] == [late - timedelta(minutes=30), None, late, late, late]
    events = [
        (e.request_id, e.from_status, e.to_status, e.created_at)
        for e in await RequestEvent.filter(request_id__in=ids, action="escalate").order_by("id")
    ]
    assert events == [(ids[0], "received", "received", late - timedelta(minutes=30))] + [
        (i, "received", "received", late) for i in ids[2:]
    ]
    assert await ServiceRequest.escalate_many(ids, late + timedelta(hours=1), chunk=2) == set()
    assert await RequestEvent.filter(request_id__in=ids, action="escalate").count() == 4


async def test_attachments(world):
    orgs, people = world
    req = await file(orgs, people)
    err = await refused(req.attach("filed", "", "", people["居民"], now=T0))
    assert err.code == "request_attach_empty"
    await req.attach("filed", "MEDIA1", "http://img.example/1.jpg", people["居民"], now=T0)
    rows = await req.attachments()
    assert [(a.kind, a.media_id, a.url) for a in rows] == [
        ("filed", "MEDIA1", "http://img.example/1.jpg")
    ]
    assert (await actions(req))[-1] == ("attach", "filed")
