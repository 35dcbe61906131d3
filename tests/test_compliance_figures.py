"""三会一课的到会数字：每种报名状态、重复到场、两处党员身份（SQLite 与 PostgreSQL）。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.demo import seed
from models.activities import Activity, Signup, compliance
from models.people import Organization, Person, RoleGrant

H = timedelta(hours=1)
NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)  # a Friday of November (Q4) in Beijing


async def meeting(org, by, kind, start, signups=()) -> Activity:
    """A meeting with sign-up rows as given: (person, status, attended, late_cancel)."""
    act = await Activity.publish(
        org, by, title=kind, kind=kind, starts_at=start, ends_at=start + 2 * H, now=start - 48 * H
    )
    for person, status, came, late in signups:
        await Signup.create(
            activity=act,
            person=person,
            status=status,
            active_key=f"{act.id}:{person.id}" if status != "cancelled" else None,
            attended_at=start if came else None,
            late_cancel=late,
            created_at=start - 24 * H,
            updated_at=start - 24 * H,
        )
    return act


def figures(row) -> list[tuple]:
    return [
        (
            item["kind"],
            item["status"],
            [(m["attended"], m["expected"], m["rate"], m["held"]) for m in item["meetings"]],
        )
        for item in row["requirements"]
    ]


async def test_every_signup_status_counted_per_branch(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    zb1 = orgs["ZB001"]
    grid = await Organization.create_in_tree("ZB001G", "第一支部网格", "grid", zb1)
    zb2 = await Organization.create_in_tree("ZB002", "光明社区党支部", "branch", orgs["SQ002"])
    by = await Person.create(display_name="书记")
    m0, m1, m2, m3, m4, officer, resident, waiting = [
        await Person.create(display_name=f"p{i}") for i in range(8)
    ]
    for person, org in [(m0, zb1), (m1, zb1), (m2, zb1), (m2, grid), (m3, grid), (m4, zb2)]:
        await RoleGrant.create(person=person, role="member", org=org)
    # an officer is no member of the branch, but counts as a member who came
    await RoleGrant.create(person=officer, role="officer", org=zb1)
    await RoleGrant.create(person=resident, role="resident", org=zb1)

    # October: the whole branch expected (4: m2 counted once); a non-member and m0's
    # second sign-up row (cancelled, yet checked in) do not add to those who came
    await meeting(
        zb1,
        by,
        "general_meeting",
        datetime(2026, 10, 10, 1, tzinfo=UTC),
        [
            (m0, "confirmed", True, False),
            (m0, "cancelled", True, False),
            (m1, "confirmed", True, False),
            (m3, "confirmed", True, False),
            (resident, "confirmed", True, False),
        ],
    )
    # expected = 5 confirmed + 1 late cancel; came = m0, the officer, m4 (another branch's)
    await meeting(
        zb1,
        by,
        "committee",
        datetime(2026, 11, 3, 1, tzinfo=UTC),
        [
            (m0, "confirmed", True, False),
            (m0, "cancelled", True, False),
            (m1, "confirmed", False, False),
            (officer, "confirmed", True, False),
            (resident, "confirmed", True, False),
            (m4, "confirmed", True, False),
            (m2, "cancelled", False, True),
            (m3, "cancelled", False, False),
            (waiting, "waitlisted", False, False),
        ],
    )
    # a lecture nobody signed up for, ended: not held
    await meeting(zb1, by, "lecture", datetime(2026, 11, 5, 1, tzinfo=UTC))
    await meeting(
        zb2,
        by,
        "group_meeting",
        datetime(2026, 11, 10, 1, tzinfo=UTC),
        [
            (m4, "confirmed", True, False),
            (resident, "confirmed", True, False),
            (m1, "cancelled", False, True),
            (waiting, "waitlisted", True, False),
        ],
    )
    await meeting(zb2, by, "committee", NOW + 24 * H, [(m4, "confirmed", False, False)])  # not yet

    one, two = await compliance([zb1, zb2], NOW)
    assert (one["branch"].id, one["members"]) == (zb1.id, 4)
    assert figures(one) == [
        ("general_meeting", "held", [(3, 4, 75.0, True)]),
        ("committee", "held", [(3, 6, 50.0, True)]),
        ("group_meeting", "missing", []),
        ("lecture", "missing", [(0, 4, 0.0, False)]),
    ]
    assert (two["branch"].id, two["members"]) == (zb2.id, 1)
    assert figures(two) == [
        ("general_meeting", "missing", []),
        ("committee", "scheduled", [(0, 1, 0.0, False)]),
        ("group_meeting", "held", [(1, 3, 33.3, True)]),
        ("lecture", "missing", []),
    ]
