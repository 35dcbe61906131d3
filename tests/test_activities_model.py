"""活动、报名、签到、时间银行、积分与三会一课的规则，直接在模型上测（SQLite 与 PostgreSQL）。"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from bot.demo import seed
from bot.identity import Caller, OrgView, RoleView
from models.activities import (
    Activity,
    CheckinAttempt,
    PointsEntry,
    Signup,
    TimeBankEntry,
    award_points,
    balance,
    compliance,
    leaderboard,
    points_of,
    quarter_range,
    week_activities,
    week_range,
)
from models.errors import DomainError
from models.people import Organization, Person, RoleGrant

# Wednesday 2026-11-18 10:00 Asia/Shanghai
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


def caller(*roles: tuple[str, Organization | None]) -> Caller:
    return Caller(
        "console",
        "x",
        "x",
        roles=tuple(RoleView(r, OrgView.of(o) if o else None) for r, o in roles),
    )


RESIDENT = caller()


@pytest.fixture
async def world(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    people = {n: await Person.create(display_name=n) for n in ("书记", "甲", "乙", "丙", "丁")}
    return orgs, people


async def publish(orgs, people, now=T0, **kw) -> Activity:
    values = dict(
        title="志愿清扫",
        kind="volunteer",
        starts_at=now + 24 * H,
        ends_at=now + 26 * H,
        place="小区广场",
        capacity=2,
        audience="everyone",
        volunteer_hours="2",
    )
    values.update(kw)
    return await Activity.publish(orgs["SQ001"], people["书记"], now=now, **values)


async def refused(coro) -> DomainError:
    with pytest.raises(DomainError) as info:
        await coro
    return info.value


async def join(act: Activity, person: Person, who: Caller = RESIDENT, now=T0) -> Signup:
    async with in_transaction():
        return await act.join(person, who, now=now)


async def test_publish_checks(world):
    orgs, people = world
    act = await publish(orgs, people)
    assert act.number == act.id and act.signup_deadline == act.starts_at
    assert act.volunteer_hours == Decimal("2.0") and act.seats_left == 2
    cases = [
        (dict(starts_at=T0 - H, ends_at=T0 + H), "act_start_past"),
        (dict(starts_at=T0 + 2 * H, ends_at=T0 + H), "act_end_before_start"),
        (dict(starts_at=T0 + 2 * H, ends_at=T0 + 2 * H), "act_end_before_start"),
        (dict(signup_deadline=T0 + 30 * H), "act_deadline_after_start"),
        (dict(signup_deadline=T0 - H), "act_deadline_past"),
        (dict(title=""), "act_bad_title"),
        (dict(title="长" * 61), "act_bad_title"),
        (dict(capacity=-1), "act_bad_capacity"),
        (dict(volunteer_hours="2.25"), "act_bad_hours"),
        (dict(volunteer_hours="很多"), "act_bad_hours"),
        (dict(kind="party"), "act_bad_kind"),
        (dict(audience="all"), "act_bad_audience"),
    ]
    for kw, code in cases:
        assert (await refused(publish(orgs, people, **kw))).code == code, kw
    assert await Activity.all().count() == 1
    assert (await Activity.by_number(f"#{act.id}")).title == "志愿清扫"
    assert (await refused(Activity.by_number("abc"))).code == "act_unknown"
    assert (await refused(Activity.by_number("999"))).code == "act_unknown"


async def test_waitlist_and_promotion(world):
    orgs, people = world
    act = await publish(orgs, people)
    a, b, c, d = [await join(act, people[n]) for n in "甲乙丙丁"]
    assert [a.status, b.status, c.status, d.status] == ["confirmed", "confirmed"] + [
        "waitlisted"
    ] * 2
    assert (await c.position(), await d.position()) == (1, 2)
    err = await refused(join(act, people["丙"]))
    assert (err.code, err.details["status"], err.details["position"]) == (
        "act_already_signed",
        "waitlisted",
        1,
    )
    async with in_transaction():
        promoted = await act.leave(people["甲"], now=T0)
    assert [s.person_id for s in promoted] == [people["丙"].id]
    fresh = await Activity.get(id=act.id)
    assert fresh.confirmed_count == 2
    assert await (await Signup.get(id=d.id)).position() == 1
    # a waitlisted person leaving promotes nobody and keeps the seats
    async with in_transaction():
        assert await act.leave(people["丁"], now=T0) == []
    assert (await Activity.get(id=act.id)).confirmed_count == 2
    assert (await refused(act.leave(people["甲"], now=T0))).code == "act_not_signed"
    # cancelled sign-ups can sign up again (to the end of the queue)
    again = await join(act, people["甲"])
    assert again.status == "waitlisted" and await again.position() == 1
    statuses = (
        await Signup.filter(activity_id=act.id).order_by("id").values_list("status", flat=True)
    )
    # the promoted one holds the seat until they confirm (models/waitlist.py)
    assert statuses == ["cancelled", "confirmed", "offered", "cancelled", "waitlisted"]


async def test_fifty_for_ten_seats_at_once(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=10)
    crowd = [await Person.create(display_name=f"p{i}") for i in range(50)]
    made = await asyncio.gather(*(join(act, p) for p in crowd))
    assert sum(s.status == "confirmed" for s in made) == 10
    assert sum(s.status == "waitlisted" for s in made) == 40
    fresh = await Activity.get(id=act.id)
    assert fresh.confirmed_count == 10
    rows = await Signup.filter(activity_id=act.id).order_by("id")
    # in arrival order: the first ten to arrive hold the seats, the rest queue behind them
    assert [s.status for s in rows] == ["confirmed"] * 10 + ["waitlisted"] * 40
    assert [await s.position() for s in rows[10:13]] == [1, 2, 3]


async def test_unlimited_capacity(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=0)
    assert act.seats_left is None
    for n in "甲乙丙丁":
        assert (await join(act, people[n])).status == "confirmed"


async def test_join_refusals(world):
    orgs, people = world
    act = await publish(orgs, people, signup_deadline=T0 + 5 * H)
    late = T0 + 6 * H
    assert (await refused(join(act, people["甲"], now=late))).code == "act_deadline_passed"
    assert (await refused(join(act, people["甲"], now=T0 + 25 * H))).code == "act_started"
    # audience
    member_zb = caller(("member", orgs["ZB001"]))
    member_sq2 = caller(("member", orgs["SQ002"]))
    only_org = await publish(orgs, people, audience="org")
    only_members = await publish(orgs, people, audience="members")
    assert (await refused(join(only_org, people["甲"]))).code == "act_not_open_to"
    assert (await refused(join(only_org, people["甲"], member_sq2))).code == "act_not_open_to"
    assert (await join(only_org, people["甲"], member_zb)).status == "confirmed"
    assert (await refused(join(only_members, people["乙"]))).code == "act_not_open_to"
    assert (await join(only_members, people["乙"], member_sq2)).status == "confirmed"
    officer = caller(("officer", orgs["JD01"]))
    assert (await join(only_org, people["丙"], officer)).status == "confirmed"
    # cancelled
    async with in_transaction():
        told = await act.cancel("下雨", people["书记"], now=T0)
    assert told == []
    assert (await refused(join(act, people["甲"]))).code == "act_cancelled"
    assert (await refused(act.cancel("again", people["书记"], now=T0))).code == "act_cancelled"
    assert (await refused(only_org.cancel("  ", people["书记"], now=T0))).code == "act_need_reason"
    assert await Signup.filter(activity_id=act.id).count() == 0


async def test_cancel_returns_who_to_tell(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=1)
    await join(act, people["甲"])
    await join(act, people["乙"])
    told = await act.cancel("场地临时占用", people["书记"], now=T0)
    assert [s.person_id for s in told] == [people["甲"].id, people["乙"].id]
    fresh = await Activity.get(id=act.id)
    assert (fresh.status, fresh.cancel_reason) == ("cancelled", "场地临时占用")


async def test_revise(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=1)
    await join(act, people["甲"])
    await join(act, people["乙"])
    await join(act, people["丙"])
    promoted = await act.revise(people["书记"], now=T0, capacity=2, place="党群服务中心")
    assert [s.person_id for s in promoted] == [people["乙"].id]
    fresh = await Activity.get(id=act.id)
    assert (fresh.capacity, fresh.confirmed_count, fresh.place) == (2, 2, "党群服务中心")
    err = await refused(act.revise(people["书记"], now=T0, capacity=1))
    assert (err.code, err.details["confirmed"]) == ("act_capacity_below", 2)
    assert (await refused(act.revise(people["书记"], now=T0, starts_at=T0 - H))).code == (
        "act_start_past"
    )
    assert (await refused(act.revise(people["书记"], now=T0, ends_at=T0 + 23 * H))).code == (
        "act_end_before_start"
    )
    await act.revise(people["书记"], now=T0, starts_at=T0 + 2 * H, ends_at=T0 + 3 * H)
    fresh = await Activity.get(id=act.id)
    assert fresh.signup_deadline == T0 + 2 * H  # moved with the start
    await act.revise(people["书记"], now=T0, capacity=0)
    assert (await Activity.get(id=act.id)).confirmed_count == 3  # unlimited: all in


async def test_attend_code_window_and_lockout(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=3)
    await join(act, people["甲"])
    early = act.starts_at - timedelta(minutes=31)
    err = await refused(act.issue_code(now=early))
    assert err.code == "act_attend_window"
    assert err.details["opens"] == act.starts_at - timedelta(minutes=30)
    on_site = act.starts_at - timedelta(minutes=10)
    code = await act.issue_code(now=on_site)
    assert len(code) == 4 and code.isdigit()
    assert await act.issue_code(now=on_site) == code  # one code per activity
    assert (await refused(act.issue_code(now=act.ends_at))).code == "act_attend_window"
    wrong = "0000" if code != "0000" else "1111"

    async def attend(person, typed, now=on_site, who=RESIDENT):
        async with in_transaction():
            return await act.attend(
                person, who, typed, now=now, points_attendance=5, points_per_hour=10
            )

    # 甲 is a member (points); 乙 and 丙 are residents (群众: hours, no points)
    await RoleGrant.create(person=people["甲"], role="member", org=orgs["ZB001"])
    for left in (4, 3, 2, 1):
        r = await attend(people["甲"], wrong)
        assert (r.wrong_code, r.attempts_left, r.locked_until) == (True, left, None)
    r = await attend(people["甲"], wrong)
    assert r.wrong_code and r.locked_until == on_site + timedelta(minutes=10)
    err = await refused(attend(people["甲"], code, now=on_site + timedelta(minutes=9)))
    assert err.code == "act_code_locked"
    # another person is not locked
    walk = await attend(people["乙"], code)
    assert walk.walk_in and walk.signup.status == "confirmed"
    # after the lock-out the right code works, hours and points are credited once
    ok = await attend(people["甲"], f" {code} ", now=on_site + timedelta(minutes=10))
    assert not ok.wrong_code and not ok.walk_in
    assert (ok.hours, ok.points) == (Decimal("2.0"), 25)
    assert (await refused(attend(people["甲"], code))).code == "act_already_attended"
    assert (await CheckinAttempt.get(activity_id=act.id, person_id=people["甲"].id)).failures == 0
    assert await balance(people["甲"].id) == Decimal("2.0")
    assert (await points_of(people["甲"].id))["total"] == 25
    # seats: 甲 confirmed + 乙 walk-in = 2 of 3; 丙 walks in, then 丁 finds it full
    await attend(people["丙"], code)
    assert (await refused(attend(people["丁"], code))).code == "act_full_no_walkin"
    f = await act.figures()
    assert f == {
        "confirmed": 3,
        "offered": 0,
        "waitlisted": 0,
        "attended": 3,
        "attended_members": 1,
        "attended_residents": 2,
        "walk_ins": 2,
        "late_cancels": 0,
    }
    assert (await points_of(people["乙"].id))["total"] == 0 and await balance(people["乙"].id)


async def test_attend_refusals(world):
    orgs, people = world
    act = await publish(orgs, people, audience="org")
    on_site = act.starts_at
    async with in_transaction():
        err = await refused(act.attend(people["甲"], RESIDENT, "1234", now=on_site))
    assert err.code == "act_code_not_issued"
    code = await act.issue_code(now=on_site)
    err = await refused(act.attend(people["甲"], RESIDENT, code, now=on_site))
    assert err.code == "act_not_open_to"


async def test_waitlisted_person_checks_in_when_a_seat_is_free(world):
    orgs, people = world
    act = await publish(orgs, people, capacity=1)
    await join(act, people["甲"])
    queued = await join(act, people["乙"])
    code = await act.issue_code(now=act.starts_at)
    err = await refused(act.attend(people["乙"], RESIDENT, code, now=act.starts_at))
    assert err.code == "act_full_no_walkin"
    await act.revise(people["书记"], now=act.starts_at - H, capacity=3)
    # promoted by the larger capacity: now a plain attendance
    r = await act.attend(people["乙"], RESIDENT, code, now=act.starts_at)
    assert r.signup.id == queued.id and not r.walk_in


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


async def test_week_activities(world):
    orgs, people = world
    start, end = week_range(T0)
    assert (start, end) == (
        datetime(2026, 11, 15, 16, tzinfo=UTC),
        datetime(2026, 11, 22, 16, tzinfo=UTC),
    )

    async def at(org, when, audience="org", title="x"):
        return await Activity.publish(
            orgs[org],
            people["书记"],
            title=title,
            starts_at=when,
            ends_at=when + H,
            audience=audience,
            now=T0,
        )

    street = await at("JD01", T0 + 30 * H, title="街道")
    own = await at("SQ001", T0 + 2 * H, title="社区")
    branch_open = await at("ZB001", T0 + 3 * H, audience="everyone", title="支部开放")
    await at("ZB001", T0 + 4 * H, title="支部内部")
    await at("SQ002", T0 + 5 * H, audience="everyone", title="别的社区")
    await at("SQ001", end + H, title="下周")
    cancelled = await at("SQ001", T0 + 6 * H, title="取消")
    await cancelled.cancel("x", people["书记"], now=T0)
    got = await week_activities(orgs["SQ001"].path, T0)
    assert [a.title for a in got] == [own.title, branch_open.title, street.title]


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
