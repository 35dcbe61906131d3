"""党员登记、报到、接转的规则，直接在模型上测（SQLite 与 PostgreSQL 各一遍）。"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from bot.demo import seed
from bot.identity import Caller, OrgView, RoleView
from models.checkin import (
    CheckIn,
    MemberRegistration,
    TransferRequest,
    lost_contact,
    normalize_phone,
    summary,
)
from models.errors import DomainError
from models.people import Organization, Person

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def officer_of(org: Organization, user: str = "o") -> Caller:
    return Caller("console", user, user, 999, None, (RoleView("officer", OrgView.of(org)),))


@pytest.fixture
async def world(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    people = {n: await Person.create(display_name=n) for n in ("党员", "书记", "书记2", "别人")}
    await Person.filter(id=people["党员"].id).update(relation_status="registered")
    return orgs, people


async def refused(coro) -> DomainError:
    with pytest.raises(DomainError) as info:
        await coro
    return info.value


async def submit(orgs, people, **kw):
    values = dict(real_name="张三", phone="13800001234", home_org=orgs["ZB001"], now=T0)
    values.update(kw)
    return await MemberRegistration.submit(people["党员"], orgs["ZB001"], **values)


def test_phone_rules():
    assert normalize_phone("１３８００００１２３４") == "13800001234"
    assert normalize_phone("138-0000-1234") == "13800001234"
    assert normalize_phone("+86 13800001234") == "13800001234"
    for bad in ("1380000123", "23800001234", "12800001234", "abc", ""):
        with pytest.raises(DomainError) as info:
            normalize_phone(bad)
        assert info.value.code == "checkin_bad_phone"


async def test_register_updates_pending_and_confirm_fills_person(world):
    orgs, people = world
    reg, updated = await submit(orgs, people)
    assert not updated and reg.status == "pending"
    again, updated = await submit(orgs, people, real_name="张三丰", relation_handed=False)
    assert updated and again.id == reg.id
    assert await MemberRegistration.all().count() == 1
    assert (await refused(submit(orgs, people, phone="123"))).code == "checkin_bad_phone"
    err = await refused(submit(orgs, people, home_org=None, home_text=""))
    assert err.code == "checkin_need_home"
    # an officer of another community may not confirm
    err = await refused(again.confirm(people["书记"], officer_of(orgs["SQ002"]), now=T0))
    assert err.code == "checkin_reg_scope"
    # an officer above the branch may
    await again.confirm(people["书记"], officer_of(orgs["SQ001"]), now=T0)
    p = await Person.get(id=people["党员"].id)
    assert (p.real_name, p.phone, p.home_org_id, p.relation_status, p.member_type) == (
        "张三丰",
        "13800001234",
        orgs["ZB001"].id,
        "unregistered",
        "full",
    )
    err = await refused(again.confirm(people["书记"], officer_of(orgs["SQ001"]), now=T0))
    assert (err.code, err.details["status"]) == ("checkin_reg_state", "confirmed")
    # a new registration after the confirmed one is a new row
    third, updated = await submit(orgs, people)
    assert not updated and third.id != reg.id


async def test_two_officers_confirming_at_once_exactly_one_wins(world):
    orgs, people = world
    reg, _ = await submit(orgs, people)
    caller = officer_of(orgs["ZB001"])

    async def confirm(by):
        fresh = await MemberRegistration.by_number(str(reg.id))
        async with in_transaction():
            return await fresh.confirm(by, caller, now=T0)

    results = await asyncio.gather(
        confirm(people["书记"]), confirm(people["书记2"]), return_exceptions=True
    )
    wins = [r for r in results if isinstance(r, MemberRegistration)]
    losses = [r for r in results if isinstance(r, DomainError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code == "checkin_reg_state"
    fresh = await MemberRegistration.get(id=reg.id)
    assert fresh.status == "confirmed" and fresh.decided_by_id == wins[0].decided_by_id


async def test_reject_needs_reason_and_happens_once(world):
    orgs, people = world
    reg, _ = await submit(orgs, people)
    caller = officer_of(orgs["ZB001"])
    assert (
        await refused(reg.reject(" ", people["书记"], caller, now=T0))
    ).code == "checkin_need_reason"
    await reg.reject("电话不对", people["书记"], caller, now=T0)
    assert (
        await refused(reg.reject("x", people["书记"], caller, now=T0))
    ).code == "checkin_reg_state"
    assert (await refused(reg.confirm(people["书记"], caller, now=T0))).code == "checkin_reg_state"


async def test_check_in_once_per_org_and_leave(world):
    orgs, people = world
    p = people["党员"]
    row = await CheckIn.check_in(p, orgs["SQ001"], now=T0)
    err = await refused(CheckIn.check_in(p, orgs["SQ001"], now=T0))
    assert err.code == "checkin_already"
    # 报到 is for members: someone who never registered is refused (and offered /登记)
    err = await refused(CheckIn.check_in(people["别人"], orgs["SQ001"], now=T0))
    assert (err.code, err.details) == ("checkin_not_member", {"pending": False})
    assert await CheckIn.all().count() == 1
    await CheckIn.check_in(p, orgs["SQ002"], "in_service", now=T0)
    fresh = await Person.get(id=p.id)
    assert (fresh.local_org_id, fresh.flow_status) == (orgs["SQ002"].id, "in_service")
    left = await CheckIn.leave_current(p, "广州", org_id=orgs["SQ001"].id, now=T0)
    assert left.id == row.id and left.destination == "广州"
    assert (await refused(row.leave("x", now=T0))).code == "checkin_not_in"
    await CheckIn.leave_current(p, "深圳", now=T0)
    assert (await refused(CheckIn.leave_current(p, "x", now=T0))).code == "checkin_not_in"
    assert (await Person.get(id=p.id)).flow_status == "flow_out"
    # after leaving, checking in again is a new row
    await CheckIn.check_in(p, orgs["SQ001"], now=T0)
    assert await CheckIn.filter(person_id=p.id).count() == 3


async def test_concurrent_check_ins_leave_one_row(world):
    orgs, people = world

    async def go():
        async with in_transaction():
            return await CheckIn.check_in(people["党员"], orgs["SQ001"], now=T0)

    results = await asyncio.gather(*(go() for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(r, CheckIn) for r in results) == 1
    assert all(isinstance(r, (CheckIn, DomainError)) for r in results), results
    assert await CheckIn.all().count() == 1


async def test_transfer_sending_side_decides(world):
    orgs, people = world
    p = people["党员"]
    tr = await TransferRequest.file(p, orgs["ZB001"], to_org=orgs["SQ002"], reason="搬家", now=T0)
    err = await refused(TransferRequest.file(p, orgs["ZB001"], to_text="外地", reason="x", now=T0))
    assert err.code == "transfer_pending_exists"
    err = await refused(tr.approve(people["书记"], officer_of(orgs["SQ002"]), now=T0))
    assert err.code == "transfer_wrong_side"
    await tr.approve(people["书记"], officer_of(orgs["ZB001"]), "同意", now=T0)
    err = await refused(tr.reject("晚了", people["书记"], officer_of(orgs["ZB001"]), now=T0))
    assert err.code == "transfer_state"
    assert [(e.action, e.to_status, e.note) for e in await tr.history()] == [
        ("filed", "pending", "搬家"),
        ("approve", "approved", "同意"),
    ]
    assert (await Person.get(id=p.id)).home_org_id == orgs["SQ002"].id
    # outside the system, then rejected
    tr2 = await TransferRequest.file(p, orgs["SQ002"], to_text="广州某支部", reason="调动", now=T0)
    await tr2.reject("材料不全", people["书记"], officer_of(orgs["JD01"]), now=T0)
    assert tr2.status == "rejected" and tr2.to_name == "广州某支部"
    err = await refused(
        TransferRequest.file(p, orgs["SQ002"], to_org=orgs["SQ002"], reason="x", now=T0)
    )
    assert err.code == "transfer_same_org"


async def test_phone_shown_by_scope_and_figures(world):
    orgs, people = world
    reg, _ = await submit(orgs, people, relation_handed=False)
    await reg.confirm(people["书记"], officer_of(orgs["ZB001"]), now=T0)
    p = await Person.get(id=people["党员"].id).select_related("home_org", "local_org")
    assert p.phone_shown_to(officer_of(orgs["SQ001"])) == "13800001234"
    assert p.phone_shown_to(officer_of(orgs["SQ002"])) == "138****1234"
    await CheckIn.check_in(p, orgs["SQ002"], now=T0)
    p = await Person.get(id=p.id).select_related("home_org", "local_org")
    assert p.phone_shown_to(officer_of(orgs["SQ002"])) == "13800001234"
    f = await summary([orgs["SQ001"].path], 90, T0)
    assert (f["registered"], f["pocket"], f["flow_in"], f["lost"]) == (1, 1, 0, 0)
    f2 = await summary([orgs["SQ002"].path], 90, T0)
    assert (f2["registered"], f2["flow_in"], f2["flow_out"]) == (1, 1, 0)
    await CheckIn.leave_current(p, "外地", now=T0)
    f2 = await summary([orgs["SQ002"].path], 90, T0)
    assert (f2["flow_in"], f2["flow_out"]) == (0, 1)
    later = T0 + timedelta(days=91)
    assert [x.id for x in await lost_contact([orgs["SQ001"].path], 90, later)] == [p.id]
    assert await lost_contact([orgs["SQ001"].path], 200, later) == []


async def test_flowing_list_puts_open_check_ins_first_on_every_database(world):
    """/流动党员's order: still here first, whatever the database does with NULLs."""
    orgs, people = world
    here = await CheckIn.create(
        person=people["党员"], org=orgs["SQ001"], checked_in_at=T0 - timedelta(days=30)
    )
    gone = await CheckIn.create(
        person=people["别人"],
        org=orgs["SQ001"],
        checked_in_at=T0 - timedelta(days=2),
        left_at=T0 - timedelta(days=1),
    )
    rows, total = await CheckIn.page_in([orgs["SQ001"].path], 1, 10)
    assert [r.id for r in rows] == [here.id, gone.id] and total == 2
