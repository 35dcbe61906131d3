"""候补确认、临时取消、自报时长、申诉与调整、兑换目录与核销码：在模型上测，两种数据库。"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from models.activities import (
    Activity,
    PointsEntry,
    RoleGrant,
    Signup,
    TimeBankEntry,
    balance,
    compliance,
    points_of,
)
from models.claims import PointsAppeal, VolunteerClaim, adjust_hours, adjust_points
from models.errors import DomainError
from models.people import Organization, Person
from models.redemption import CatalogueItem, Redemption
from models.waitlist import confirm_offer, expire_offers
from tests import activities_tools as base
from tests.activities_tools import RESIDENT, T0, H, caller, join, publish, refused

world = base.world  # the demo tree; people 书记 甲 乙 丙 丁


async def bank(person: Person, hours: str, org: Organization) -> None:
    await TimeBankEntry.create(
        person=person, org=org, hours=Decimal(hours), kind="credit", created_at=T0
    )


# -- waitlist confirmation ---------------------------------------------------------
async def test_promotion_needs_confirmation_within_the_window(world):
    orgs, people = world
    act = await publish(orgs, people)  # starts T0 + 24 h, 2 seats
    for n in ("甲", "乙", "丙", "丁"):
        await join(act, people[n])
    async with in_transaction():
        offered = await act.leave(people["甲"], now=T0, confirm_hours=12)
    (offer,) = offered
    assert offer.person_id == people["丙"].id and offer.status == "offered"
    assert offer.offer_expires_at == T0 + 12 * H
    assert (await Activity.get(id=act.id)).confirmed_count == 2  # the seat is held
    err = await refused(confirm_offer(act, people["丁"].id, now=T0))
    assert err.code == "act_no_offer"
    # nobody confirms: at the deadline the seat passes to 丁, with a shorter window
    # (half of the 12 hours left before the start)
    async with in_transaction():
        lapsed, again = await expire_offers(T0 + 12 * H, 12)
    assert [s.person_id for s in lapsed] == [people["丙"].id]
    assert [s.person_id for s in again] == [people["丁"].id]
    assert again[0].offer_expires_at == T0 + 18 * H
    err = await refused(confirm_offer(act, people["丙"].id, now=T0 + 13 * H))
    assert err.code == "act_no_offer"
    assert (await confirm_offer(act, people["丁"].id, now=T0 + 13 * H)).status == "confirmed"
    async with in_transaction():
        assert await expire_offers(T0 + 20 * H, 12) == ([], [])
    statuses = (
        await Signup.filter(activity_id=act.id).order_by("id").values_list("status", "person_id")
    )
    assert [s for s, _ in statuses] == ["cancelled", "confirmed", "cancelled", "confirmed"]
    assert (await Activity.get(id=act.id)).confirmed_count == 2


async def test_late_offer_cannot_be_confirmed(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=1)
    await join(act, people["甲"])
    await join(act, people["乙"])
    async with in_transaction():
        await act.leave(people["甲"], now=T0, confirm_hours=2)
    err = await refused(confirm_offer(act, people["乙"].id, now=T0 + 2 * H))
    assert err.code == "act_offer_expired"


async def test_cancelling_just_before_the_start_counts_as_absence(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=0)
    for n in ("甲", "乙"):
        await join(act, people[n])
    async with in_transaction():
        await act.leave(people["甲"], now=T0, late_cancel_hours=2)  # a day before: fine
        await act.leave(people["乙"], now=act.starts_at - H, late_cancel_hours=2)
    f = await act.figures()
    assert f["late_cancels"] == 1 and f["confirmed"] == 0


async def test_compliance_counts_members_only_and_late_cancels_as_absent(world):
    orgs, people = world
    zb = orgs["ZB001"]
    start = T0 + 48 * H
    act = await Activity.publish(
        zb, people["书记"], title="支委会", kind="committee", starts_at=start,
        ends_at=start + 2 * H, audience="everyone", now=T0,
    )  # fmt: skip
    members = [people["甲"], people["乙"], people["丙"]]
    for m in members:
        await RoleGrant.create(person=m, role="member", org=zb)
        await act.join(m, caller(("member", zb)), now=T0)
    await act.join(people["丁"], RESIDENT, now=T0)  # a resident joins the open activity
    async with in_transaction():
        await act.leave(people["丙"], now=start - H, late_cancel_hours=2)
    code = await act.issue_code(now=start)
    for p in (people["甲"], people["丁"]):
        async with in_transaction():
            await act.attend(p, RESIDENT, code, now=start, points_attendance=5)
    f = await act.figures()
    assert (f["attended"], f["attended_members"], f["attended_residents"]) == (2, 1, 1)
    assert (await points_of(people["丁"].id))["total"] == 0  # residents get no points
    assert (await points_of(people["甲"].id))["attendance"] == 5
    (report,) = await compliance([zb], now=start + 3 * H)
    committee = next(r for r in report["requirements"] if r["kind"] == "committee")
    (m,) = committee["meetings"]
    # expected: 甲, 乙 and 丁 still signed up, plus 丙 who cancelled late; came: 甲 (members)
    assert (m["attended"], m["expected"]) == (1, 4)


# -- self-reported hours -------------------------------------------------------------
async def test_claims_are_pending_until_an_officer_decides(world):
    orgs, people = world
    a = people["甲"]
    err = await refused(VolunteerClaim.submit(a, "陪聊", "2", now=T0))
    assert err.code == "claim_no_org"
    await RoleGrant.create(person=a, role="member", org=orgs["ZB001"])
    tomorrow = (T0 + 24 * H).date() + timedelta(days=1)
    err = await refused(VolunteerClaim.submit(a, "陪聊", "2", tomorrow, now=T0))
    assert err.code == "claim_future_day"
    assert (await refused(VolunteerClaim.submit(a, "", "2", now=T0))).code == "claim_need_text"
    assert (await refused(VolunteerClaim.submit(a, "陪聊", "25", now=T0))).code == "act_bad_hours"
    c1 = await VolunteerClaim.submit(a, "敬老院陪聊", "2", date(2026, 11, 16), now=T0)
    c2 = await VolunteerClaim.submit(a, "清扫楼道", "1.5", now=T0)
    assert (c1.status, c1.org_id, c2.day) == ("pending", orgs["ZB001"].id, date(2026, 11, 18))
    assert await balance(a.id) == 0  # nothing before a decision
    officer = people["书记"]
    c1 = await VolunteerClaim.by_number(str(c1.id))
    c1.check_officer(caller(("officer", orgs["SQ001"])))
    with pytest.raises(DomainError) as info:
        c1.check_officer(caller(("officer", orgs["SQ002"])))
    assert info.value.code == "claim_not_your_scope"
    entry = await c1.confirm(officer, now=T0)
    assert (entry.kind, entry.hours, entry.officer_id) == ("claim", Decimal("2.0"), officer.id)
    assert (await refused(c1.confirm(officer, now=T0))).code == "claim_decided"
    assert (await refused(c2.decline(officer, " ", now=T0))).code == "claim_need_reason"
    await c2.decline(officer, "当天没有这项活动", now=T0)
    assert (await VolunteerClaim.get(id=c2.id)).reason == "当天没有这项活动"
    assert await balance(a.id) == Decimal("2.0")


# -- appeals and adjustments ------------------------------------------------------------
async def test_adjustments_carry_officer_reason_and_answer_the_appeal(world):
    orgs, people = world
    a, officer = people["甲"], people["书记"]
    await RoleGrant.create(person=a, role="member", org=orgs["ZB001"])
    appeal = await PointsAppeal.open(a, "主题党日签到了没积分", now=T0)
    assert (appeal.status, appeal.org_id) == ("open", orgs["ZB001"].id)
    assert (await refused(adjust_points(a, "+5", "", officer, now=T0))).code == "adjust_need_reason"
    assert (
        await refused(adjust_points(a, "五分", "x", officer, now=T0))
    ).code == "points_bad_adjust"
    entry = await adjust_points(a, "+5", "11月主题党日漏记", officer, now=T0)
    assert (entry.kind, entry.points, entry.officer_id, entry.appeal_id) == (
        "adjust",
        5,
        officer.id,
        appeal.id,
    )
    assert (await PointsAppeal.get(id=appeal.id)).status == "resolved"
    second = await adjust_points(a, "-2", "重复记分", officer, now=T0)
    assert second.appeal_id is None and (await points_of(a.id))["adjust"] == 3
    err = await refused(adjust_hours(a, "-1", "扣错", officer, now=T0))
    assert err.code == "timebank_insufficient"
    h, left = await adjust_hours(a, "+2", "敬老院漏记", officer, now=T0)
    assert (h.kind, h.hours, h.reason, left) == (
        "adjust",
        Decimal("2.0"),
        "敬老院漏记",
        Decimal("2.0"),
    )
    assert await PointsEntry.filter(person_id=a.id, kind="adjust").count() == 2


# -- the redemption catalogue --------------------------------------------------------------
async def test_catalogue_rules(world):
    orgs, people = world
    sq, officer = orgs["SQ001"], people["书记"]
    for price, code in (("2", "catalogue_bad_price"), ("0小时", "catalogue_bad_price")):
        assert (
            await refused(CatalogueItem.shelve(sq, "理发", price, None, officer, now=T0))
        ).code == code
    err = await refused(CatalogueItem.shelve(sq, "理发", "2小时", "0", officer, now=T0))
    assert err.code == "catalogue_bad_stock"
    hair = await CatalogueItem.shelve(sq, "理发", "2小时", "3", officer, now=T0)
    assert (hair.hours, hair.points, hair.stock) == (Decimal("2.0"), None, 3)
    err = await refused(CatalogueItem.shelve(sq, "理发", "1小时", None, officer, now=T0))
    assert err.code == "catalogue_exists"
    rice = await CatalogueItem.shelve(orgs["JD01"], "大米", "50积分", None, officer, now=T0)
    # someone in ZB001 sees the community's and the street's items; SQ002 only the street's
    assert [i.name for i in await CatalogueItem.visible([orgs["ZB001"].path])] == ["大米", "理发"]
    assert [i.name for i in await CatalogueItem.visible([orgs["SQ002"].path])] == ["大米"]
    assert (await CatalogueItem.find("大米", [orgs["ZB001"].path])).id == rice.id
    await hair.remove()
    err = await refused(CatalogueItem.find("理发", [orgs["ZB001"].path]))
    assert err.code == "catalogue_unknown"


async def test_redeem_from_own_balance_and_single_use_codes(world):
    orgs, people = world
    sq, a, officer = orgs["SQ001"], people["甲"], people["书记"]
    hair = await CatalogueItem.shelve(sq, "理发", "2小时", None, officer, now=T0)
    rice = await CatalogueItem.shelve(sq, "大米", "10积分", None, officer, now=T0)
    async with in_transaction():
        err = await refused(hair.redeem(a, now=T0))
    assert err.code == "timebank_insufficient"
    await bank(a, "3", sq)
    async with in_transaction():
        red = await hair.redeem(a, now=T0)
    assert len(red.code) == 6 and red.code.isdigit() and red.expires_at == T0 + 30 * 24 * H
    assert await balance(a.id) == Decimal("1.0")
    async with in_transaction():
        assert (await refused(rice.redeem(a, now=T0))).code == "points_insufficient"
    await PointsEntry.create(person=a, kind="lesson", points=12, ref="l1", created_at=T0)
    async with in_transaction():
        red2 = await rice.redeem(a, now=T0)
    assert (await points_of(a.id))["total"] == 2 and red2.code != red.code
    # verifying: the community's officers, or a partner merchant under the same street
    found = await Redemption.by_code(red.code)
    shop = await Organization.create_in_tree("SJ01", "爱心理发店", "partner", orgs["JD01"])
    found.check_verifier(caller(("officer", shop)))
    found.check_verifier(caller(("officer", sq)))
    with pytest.raises(DomainError) as info:
        found.check_verifier(caller(("officer", orgs["SQ002"])))
    assert info.value.code == "redemption_not_your_scope"
    await found.use(officer, now=T0 + H)
    assert (await refused(found.use(officer, now=T0 + 2 * H))).code == "redemption_used"
    late = await Redemption.by_code(red2.code)
    err = await refused(late.use(officer, now=T0 + 31 * 24 * H))
    assert err.code == "redemption_expired"
    assert (await refused(Redemption.by_code("12345"))).code == "redemption_unknown"


async def redeem_once(item: CatalogueItem, person: Person) -> str:
    try:
        async with in_transaction():
            await (await CatalogueItem.get(id=item.id)).redeem(person, now=T0)
        return "ok"
    except Exception as exc:
        return getattr(exc, "code", type(exc).__name__)


async def test_stock_and_balance_never_overdrawn_under_concurrency(world):
    orgs, people = world
    sq, officer = orgs["SQ001"], people["书记"]
    buyers = [await Person.create(display_name=f"b{i}") for i in range(6)]
    for b in buyers:
        await bank(b, "5", sq)
    rice = await CatalogueItem.shelve(sq, "大米", "1小时", "2", officer, now=T0)
    results = await asyncio.gather(*(redeem_once(rice, b) for b in buyers))
    assert sorted(results) == ["catalogue_out_of_stock"] * 4 + ["ok"] * 2
    assert (await CatalogueItem.get(id=rice.id)).stock == 0
    assert await Redemption.filter(item_id=rice.id).count() == 2
    # one person, 5 hours, five 2-hour redemptions at once: two succeed, never below zero
    hair = await CatalogueItem.shelve(sq, "理发", "2小时", None, officer, now=T0)
    results = await asyncio.gather(*(redeem_once(hair, buyers[0]) for _ in range(5)))
    spent_on_rice = 1 if await Redemption.filter(item_id=rice.id, person=buyers[0]).exists() else 0
    allowed = int((5 - spent_on_rice) // 2)
    assert results.count("ok") == allowed
    assert await balance(buyers[0].id) == Decimal(5 - spent_on_rice - 2 * allowed)


async def test_ledgers_show_claims_adjustments_codes_and_attendance(world):
    from models.activities_export import activity_rows
    from models.timebank_export import timebank_rows

    orgs, people = world
    sq, a, officer = orgs["SQ001"], people["甲"], people["书记"]
    await RoleGrant.create(person=a, role="member", org=orgs["ZB001"])
    claim = await VolunteerClaim.submit(a, "敬老院陪聊", "3", now=T0)
    await claim.confirm(officer, now=T0)
    appeal = await PointsAppeal.open(a, "少记了", now=T0)
    await adjust_hours(a, "-0.5", "重复登记", officer, org=sq, now=T0 + H)
    hair = await CatalogueItem.shelve(sq, "理发", "2小时", None, officer, now=T0)
    async with in_transaction():
        red = await hair.redeem(a, now=T0 + 2 * H)
    header, rows = await timebank_rows("SQ001")
    table = [dict(zip(header, r, strict=True)) for r in rows]
    assert [(r["类别"], r["小时"], r["余额"]) for r in table] == [
        ("自报确认", 3.0, 3.0),
        ("调整", -0.5, 2.5),
        ("兑换", -2.0, 0.5),
    ]
    assert (table[0]["兑换物品"], table[0]["经办人"]) == ("敬老院陪聊", "书记")
    assert (table[1]["原因"], table[1]["申诉编号"]) == ("重复登记", appeal.id)
    assert table[2]["核销码"] == f"{red.code}（未核销）"
    await red.use(officer, now=T0 + 3 * H)
    _, used = await timebank_rows("SQ001")
    assert dict(zip(header, used[2], strict=True))["核销码"] == f"{red.code}（已核销）"
    act = await publish(orgs, people, capacity=1)
    await join(act, people["乙"])
    await join(act, people["丙"])
    async with in_transaction():
        await act.leave(people["乙"], now=act.starts_at - H, late_cancel_hours=2)
    day = (T0 + 24 * H).date()
    header, rows = await activity_rows("SQ001", day, day)
    row = dict(zip(header, rows[0], strict=True))
    assert (row["递补待确认"], row["临时取消（计缺席）"], row["其中党员"]) == (1, 1, 0)
