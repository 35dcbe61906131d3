"""时间银行台账、积分与排行榜、三会一课达标统计，直接在模型上测（SQLite 与 PostgreSQL）。"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from models.activities import (
    Activity,
    PointsEntry,
    TimeBankEntry,
    award_points,
    balance,
    compliance,
    leaderboard,
    points_of,
    quarter_range,
)
from models.errors import DomainError
from models.people import Person, RoleGrant
from tests import activities_tools as tools
from tests.activities_tools import T0, H, caller, publish, refused

world = tools.world  # the demo tree; people 书记 甲 乙 丙 丁


async def test_time_bank_ledger(world):
    orgs, people = world
    a, officer = people["甲"], people["书记"]
    act1 = await publish(orgs, people, volunteer_hours="2.5")
    act2 = await publish(orgs, people, volunteer_hours="1")
    assert await TimeBankEntry.credit(a.id, act1, Decimal("2.5"), now=T0)
    assert not await TimeBankEntry.credit(a.id, act1, Decimal("2.5"), now=T0)  # once
    assert await TimeBankEntry.credit(a.id, act2, Decimal("1.0"), now=T0)
    assert await balance(a.id) == Decimal("3.5")
    async with in_transaction():
        entry, left = await TimeBankEntry.redeem(a, "1.5", "理发一次", officer, now=T0)
    assert (entry.hours, entry.kind, entry.officer_id, left) == (
        Decimal("-1.5"),
        "redeem",
        officer.id,
        Decimal("2.0"),
    )
    err = await refused(TimeBankEntry.redeem(a, "2.1", "米一袋", officer, now=T0))
    assert (err.code, err.details["balance"]) == ("timebank_insufficient", Decimal("2.0"))
    for bad in ("0", "-1", "abc", "0.25"):
        err = await refused(TimeBankEntry.redeem(a, bad, "米", officer, now=T0))
        assert err.code == "act_bad_hours"
    err = await refused(TimeBankEntry.redeem(a, "1", " ", officer, now=T0))
    assert err.code == "timebank_need_item"
    async with in_transaction():
        await TimeBankEntry.redeem(a, "2", "米一袋", officer, now=T0)
    assert await balance(a.id) == Decimal("0.0")
    rows = await TimeBankEntry.filter(person_id=a.id).order_by("id").values_list("hours", flat=True)
    assert [Decimal(h) for h in rows] == [Decimal(x) for x in ("2.5", "1.0", "-1.5", "-2.0")]


async def test_concurrent_redemptions_never_overdraw(world):
    orgs, people = world
    a, officer = people["甲"], people["书记"]
    act = await publish(orgs, people, volunteer_hours="5")
    await TimeBankEntry.credit(a.id, act, Decimal("5"), now=T0)

    async def redeem():
        try:
            async with in_transaction():
                await TimeBankEntry.redeem(a, "3", "米", officer, now=T0)
            return True
        except DomainError:
            return False

    results = await asyncio.gather(*(redeem() for _ in range(6)))
    assert sum(results) == 1
    assert await balance(a.id) == Decimal("2.0")


async def test_points_once_per_ref_and_leaderboard(world):
    orgs, people = world
    a, b, c = people["甲"], people["乙"], people["丙"]
    for p, org in ((a, "ZB001"), (b, "WG01"), (c, "SQ002")):
        await RoleGrant.create(person=p, role="member", org=orgs[org])
    assert await award_points(a.id, "lesson", 1, "lesson:2026-11-18", now=T0)
    assert not await award_points(a.id, "lesson", 1, "lesson:2026-11-18", now=T0)
    assert await award_points(a.id, "lesson", 1, "lesson:2026-11-19", now=T0 + 24 * H)
    assert await award_points(b.id, "attendance", 5, "act:1", now=T0)
    assert await award_points(c.id, "attendance", 50, "act:2", now=T0)
    # last month does not count this month
    assert await award_points(b.id, "volunteer", 100, "act:0", now=T0 - timedelta(days=30))
    with pytest.raises(ValueError):
        await award_points(a.id, "likes", 1, "x", now=T0)
    assert await PointsEntry.filter(person_id=a.id).count() == 2
    assert (await points_of(a.id)) == {
        "attendance": 0,
        "volunteer": 0,
        "lesson": 2,
        "adjust": 0,
        "redeem": 0,
        "total": 2,
    }
    top = await leaderboard(orgs["SQ001"], T0)
    assert [(p.display_name, n) for p, n in top] == [("乙", 5), ("甲", 2)]
    lessons = await leaderboard(orgs["SQ001"], T0, kind="lesson")
    assert [(p.display_name, n) for p, n in lessons] == [("甲", 2)]
    first, points = (await leaderboard(orgs["JD01"], T0))[0]
    assert (first.display_name, points) == ("丙", 50)


async def test_compliance_against_a_hand_built_quarter(world):
    """Q4 2026 for branch ZB001 (4 members): a general meeting in October with 3 of 4
    checked in, a committee meeting this month with 2 of 2 sign-ups, a group meeting this
    month not yet held, no lecture; a cancelled lecture does not count."""
    orgs, people = world
    zb = orgs["ZB001"]
    members = [await Person.create(display_name=f"m{i}") for i in range(4)]
    for m in members:
        await RoleGrant.create(person=m, role="member", org=zb)
    now = datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert quarter_range(now) == (
        datetime(2026, 9, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 31, 16, tzinfo=UTC),
    )

    async def meeting(kind, start, attendees, signups=()):
        before = start - 48 * H
        act = await Activity.publish(
            zb,
            people["书记"],
            title=kind,
            kind=kind,
            starts_at=start,
            ends_at=start + 2 * H,
            now=before,
        )
        member = caller(("member", zb))
        for p in signups:
            await act.join(p, member, now=before)
        code = await act.issue_code(now=start)
        for p in attendees:
            await act.attend(p, member, code, now=start)
        return act

    await meeting("general_meeting", datetime(2026, 10, 10, 1, tzinfo=UTC), members[:3])
    await meeting(
        "committee", datetime(2026, 11, 3, 1, tzinfo=UTC), members[:2], signups=members[:2]
    )
    # a September committee meeting is last month's (and last quarter's)
    await meeting("committee", datetime(2026, 9, 20, 1, tzinfo=UTC), members[:1])
    group = await Activity.publish(
        zb,
        people["书记"],
        title="小组会",
        kind="group_meeting",
        starts_at=now + 24 * H,
        ends_at=now + 25 * H,
        now=now,
    )
    lecture = await Activity.publish(
        zb,
        people["书记"],
        title="党课",
        kind="lecture",
        starts_at=now + 24 * H,
        ends_at=now + 25 * H,
        now=now,
    )
    await lecture.cancel("改期", people["书记"], now=now)
    [report] = await compliance([zb], now)
    assert report["members"] == 4
    items = {i["kind"]: i for i in report["requirements"]}
    assert [i["kind"] for i in report["requirements"]] == [
        "general_meeting",
        "committee",
        "group_meeting",
        "lecture",
    ]
    gm = items["general_meeting"]
    assert gm["status"] == "held" and gm["period"] == "quarter"
    assert [(m["attended"], m["expected"], m["rate"]) for m in gm["meetings"]] == [(3, 4, 75.0)]
    cm = items["committee"]
    assert cm["status"] == "held" and cm["period"] == "month"
    assert [(m["attended"], m["expected"], m["rate"]) for m in cm["meetings"]] == [(2, 2, 100.0)]
    assert items["group_meeting"]["status"] == "scheduled"
    assert items["group_meeting"]["meetings"][0]["activity"].id == group.id
    assert items["lecture"]["status"] == "missing" and items["lecture"]["meetings"] == []
