"""活动的发布、报名与候补、取消与修改、签到与到场、本周活动，在模型上测（SQLite 与 PostgreSQL）。"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tortoise.transactions import in_transaction

from models.activities import (
    Activity,
    CheckinAttempt,
    Signup,
    balance,
    points_of,
    week_activities,
    week_range,
)
from models.people import Person, RoleGrant
from tests import activities_tools as tools
from tests.activities_tools import RESIDENT, T0, H, caller, join, publish, refused

world = tools.world  # the demo tree; people 书记 甲 乙 丙 丁


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
