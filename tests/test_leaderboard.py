"""积分排行（/排行 的模型）：谁算本组织的人、怎么排、谁不上榜，SQLite 与 PostgreSQL 一样。

Each database counts with its own written-out statement (a lateral join on
PostgreSQL, a join on SQLite): the same board is asserted on both, with every way of
belonging, ties, a cut at `limit`, a total that is not positive, last month's points,
and the lesson board.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.demo import seed
from models.activities import award_points, leaderboard
from models.people import Organization, Person, RoleGrant

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


async def test_the_board_counts_every_way_of_belonging_once(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    sq, zb, wg = orgs["SQ001"], orgs["ZB001"], orgs["WG01"]
    make = Person.create
    home = await make(display_name="户籍", home_org_id=zb.id)
    local = await make(display_name="流入", local_org_id=wg.id)
    granted = await make(display_name="党员", home_org_id=orgs["SQ002"].id)
    await RoleGrant.create(person=granted, role="member", org=zb)
    both = await make(display_name="两头", home_org_id=zb.id, local_org_id=sq.id)
    await RoleGrant.create(person=both, role="officer", org=sq)
    subscriber = await make(display_name="订阅")  # a grant that is not membership
    await RoleGrant.create(person=subscriber, role="volunteer", org=sq)
    outsider = await make(display_name="外人", home_org_id=orgs["SQ002"].id)
    negative = await make(display_name="倒扣", home_org_id=zb.id)
    zero = await make(display_name="清零", home_org_id=zb.id)
    ties = [await make(display_name=f"并列{i}", home_org_id=zb.id) for i in range(3)]

    async def award(p: Person, kind: str, n: int, ref: str, at: datetime = T0) -> None:
        assert await award_points(p.id, kind, n, ref, now=at)

    await award(home, "attendance", 30, "a1")
    await award(home, "lesson", 2, "l1")
    await award(local, "volunteer", 40, "v1")
    await award(granted, "lesson", 7, "l1")
    await award(both, "attendance", 20, "a1")
    await award(both, "lesson", 3, "l1")
    await award(subscriber, "attendance", 99, "a1")
    await award(outsider, "attendance", 98, "a1")
    await award(negative, "redeem", -5, "r1")
    await award(zero, "attendance", 4, "a1")
    await award(zero, "redeem", -4, "r1")
    for p in ties:
        await award(p, "attendance", 6, "a1")
    await award(home, "volunteer", 500, "old", T0 - timedelta(days=30))  # last month

    def board(rows: list[tuple[Person, int]]) -> list[tuple[str, int]]:
        return [(p.display_name, n) for p, n in rows]

    tied = [("并列0", 6), ("并列1", 6), ("并列2", 6)]
    assert board(await leaderboard(sq, T0)) == [
        ("流入", 40),
        ("户籍", 32),
        ("两头", 23),
        ("党员", 7),
        *tied,
    ]
    assert board(await leaderboard(zb, T0)) == [("户籍", 32), ("两头", 23), ("党员", 7), *tied]
    assert board(await leaderboard(sq, T0, limit=5)) == [
        ("流入", 40),
        ("户籍", 32),
        ("两头", 23),
        ("党员", 7),
        ("并列0", 6),
    ]
    lessons = [("党员", 7), ("两头", 3), ("户籍", 2)]
    assert board(await leaderboard(sq, T0, kind="lesson")) == lessons
    assert board(await leaderboard(orgs["SQ002"], T0)) == [("外人", 98), ("党员", 7)]
    assert board(await leaderboard(sq, T0 + timedelta(days=20))) == []  # December: nothing yet
