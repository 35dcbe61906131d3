"""A broadcast whose posts fail (OneBot answers retcode != 0 / status "failed", or an
HTTP error) ends with every row of the firing finished: none left pending or sending,
the counts adding up, the firing done; and the failed rows are written a few
statements per batch (`Delivery.mark_finished`: one UPDATE per identical outcome)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError

from bot.app import RUNTIME, create_app
from bot.clock import ManualClock
from models.broadcasts import Broadcast, BroadcastFiring
from models.deliveries import Delivery
from models.people import GroupBinding, Organization
from tests.conftest import make_config
from tests.fakes.onebot_api import FakeOnebotAPI
from tests.test_delivery_claims import rows_of

GROUPS = 60
LANE = 8  # fanout_concurrency: the firing takes several claims and write rounds
NOW = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


@pytest.fixture
async def qq(aiohttp_client, aiohttp_server, db_url):
    """The app with OneBot posting to the fake; GROUPS groups bound to one community;
    this process leads the broadcasts."""
    fake = await FakeOnebotAPI(access_token="tok").serve(aiohttp_server)
    onebot = {"enabled": True, "secret": "s", "api_url": fake.base_url, "access_token": "tok"}
    config = make_config(db_url, onebot=onebot, broadcasts={"fanout_concurrency": LANE})
    client = await aiohttp_client(create_app(config))
    runtime = client.server.app[RUNTIME]
    runtime.clock = ManualClock(NOW)
    org = await Organization.create_in_tree("BC01", "广播测试社区", "community")
    await GroupBinding.bulk_create(
        [GroupBinding(platform="onebot", chat_id=str(100000 + i), org=org) for i in range(GROUPS)]
    )
    assert await runtime.broadcaster.elect()
    fake.runtime, fake.org = runtime, org
    return fake


async def fire(qq: FakeOnebotAPI, fired: int = 1) -> BroadcastFiring:
    """One broadcast to every group, fired by one tick; its firing after the tick (0
    fired: the firing raised, "failed to fire")."""
    b = await Broadcast.create(
        org=qq.org, rule="once", audience="org_groups", audience_ref=str(qq.org.id),
        content="今晚七点停水，请提前储水。", urgent=True, next_fire_at=NOW,
    )  # fmt: skip
    assert await qq.runtime.broadcaster.tick() == fired
    return await BroadcastFiring.get(broadcast_id=b.id)


async def outcomes(firing: BroadcastFiring) -> dict[tuple, int]:
    rows = await Delivery.filter(firing_id=firing.id).values_list(
        "status", "error_code", "reason", "attempts"
    )
    found: dict[tuple, int] = {}
    for row in rows:
        found[row] = found.get(row, 0) + 1
    return found


def assert_finished(firing: BroadcastFiring, counts: dict[str, int]) -> None:
    assert counts["pending"] == counts["sending"] == counts["unknown"] == 0
    assert sum(counts.values()) == GROUPS
    assert (firing.status, firing.targets) == ("done", GROUPS)
    assert (firing.sent, firing.failed) == (counts["sent"], counts["failed"] + counts["refused"])
    assert firing.finished_at is not None


@pytest.mark.parametrize(
    "script, outcome",
    [
        (lambda f: f.fail_next(1200, "群不存在", times=GROUPS),
         ("failed", 1200, "OneBot 发送失败：群不存在", 1)),
        (lambda f: f.http_error_next(403, times=GROUPS),
         ("failed", None, "OneBot 拒绝了 access_token（与 OneBot 配置不一致）", 1)),
    ],
    ids=["retcode", "http-403"],
)  # fmt: skip
async def test_a_broadcast_where_every_post_fails_ends_finished(qq, script, outcome):
    script(qq)
    firing = await fire(qq)
    counts = await Delivery.count_by_status(firing.id)
    assert_finished(firing, counts)
    assert await outcomes(firing) == {outcome: GROUPS}
    assert (firing.sent, firing.failed) == (0, GROUPS) and qq.delivered == []


async def test_failures_and_successes_mixed_all_end_finished(qq):
    """A third refused by retcode, some by HTTP 403, a few 5xx three times over (retried,
    then failed), the rest delivered; in whatever order the posts reach the fake."""
    qq.fail_next(100, times=20)
    qq.http_error_next(403, times=7)
    qq.http_error_next(502, times=6)  # two rows' three attempts, or six rows' first
    firing = await fire(qq)
    counts = await Delivery.count_by_status(firing.id)
    assert_finished(firing, counts)
    # Every post the platform accepted is a row marked sent, and only those.
    assert counts["sent"] == len(qq.delivered) >= GROUPS - 20 - 7 - 6
    assert counts["failed"] == GROUPS - len(qq.delivered)
    found = await outcomes(firing)
    assert found[("failed", 100, "OneBot 发送失败：scripted failure", 1)] == 20
    assert found[("failed", None, "OneBot 拒绝了 access_token（与 OneBot 配置不一致）", 1)] == 7
    sent = {k: n for k, n in found.items() if k[0] == "sent"}
    assert sent == {("sent", None, "", 1): counts["sent"]}
    delivered = sorted(m["group_id"] for m in qq.delivered)
    assert len(set(delivered)) == len(delivered)  # none posted twice


async def test_failed_rows_are_written_one_statement_per_chunk(db, monkeypatch):
    """`mark_finished` writes up to FINISH_CHUNK rows per UPDATE, whatever their
    outcomes (reasons that name the target differ on every row), with each row's exact
    values stored and the rows not listed untouched."""
    import models.deliveries as deliveries

    ids = await rows_of(9, 7, status="sending")
    long = "原因" * 200  # cut to 255 characters, as one row at a time did
    rows = [
        (ids[0], "failed", 1200, "群不存在", 1),
        (ids[3], "failed", 1200, "群不存在", 1),
        (ids[5], "failed", 1200, "OneBot 发送失败：群号错误 123", 1),
        (ids[6], "failed", 100, "QQ 号/群号必须是数字：x6", 1),
        (ids[1], "failed", None, "OneBot HTTP 502", 3),
        (ids[2], "refused", None, long, 0),
    ]
    monkeypatch.setattr(deliveries, "FINISH_CHUNK", 4, raising=False)
    conn = connections.get("default")
    statements: list[str] = []
    execute = conn.execute_query

    async def counted(sql, values=None):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return await execute(sql, values)

    monkeypatch.setattr(conn, "execute_query", counted)
    direct = deliveries.DIRECT.execute  # SQLite's statements on the loop's thread

    def counted_direct(client, sql, values):  # type: ignore[no-untyped-def]
        rows = direct(client, sql, values)
        if rows is not None:  # written there (else it goes to execute_query)
            statements.append(sql)
        return rows

    monkeypatch.setattr(deliveries.DIRECT, "execute", counted_direct)
    await Delivery.mark_finished(rows, NOW)
    await Delivery.mark_finished([], NOW)  # nothing failed: no statement
    monkeypatch.undo()
    # Six rows in chunks of four: two statements (one per row before).
    assert len(statements) == 2 and all("UPDATE" in s for s in statements)
    stored = dict(
        (r[0], r[1:]) for r in await Delivery.filter(firing_id=9).values_list(
            "id", "status", "error_code", "reason", "attempts", "finished_at"
        )
    )  # fmt: skip
    for row_id, status, code, reason, attempts in rows:
        assert stored[row_id] == (status, code, reason[:255], attempts, NOW)
    assert stored[ids[4]][0] == "sending"  # not in the list: untouched


async def test_a_firing_broken_off_by_the_database_is_finished_by_the_next_tick(qq, monkeypatch):
    """The database goes away while the failed rows of a round are written (the district
    run: "terminating connection due to administrator command"): the firing stops with
    rows in sending. The leader's next tick finishes it as a restart would: the rows that
    were on the wire become unknown (never posted again), the pending ones are sent."""
    qq.fail_next(1200, "群不存在", times=GROUPS)
    mark_finished = Delivery.mark_finished.__func__  # type: ignore[attr-defined]
    calls = 0

    async def away_once(cls, rows, now):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OperationalError("terminating connection due to administrator command")
        await mark_finished(cls, rows, now)

    monkeypatch.setattr(Delivery, "mark_finished", classmethod(away_once))
    firing = await fire(qq, fired=0)
    broken = await Delivery.count_by_status(firing.id)
    assert firing.status == "sending" and broken["sending"] > 0 and broken["pending"] > 0
    assert await qq.runtime.broadcaster.tick() == 0  # nothing new is due
    await firing.refresh_from_db()
    counts = await Delivery.count_by_status(firing.id)
    assert counts["pending"] == counts["sending"] == 0
    assert counts["unknown"] == broken["sending"] and counts["failed"] == GROUPS - counts["unknown"]
    assert (firing.status, firing.failed, firing.uncertain) == ("done", counts["failed"],
                                                               counts["unknown"])  # fmt: skip
    # Each group was posted to once: the rows in doubt were not posted again.
    posted = [r for r in qq.requests if r.path == qq.SEND_GROUP]
    assert len(posted) == GROUPS


async def test_a_firing_whose_total_failed_is_totalled_by_the_next_tick(qq, monkeypatch):
    """Every row written back, then the database goes away for the total: the firing is
    left in sending with its old counts until the next tick totals it."""
    qq.fail_next(1200, "群不存在", times=GROUPS // 2)
    count_by_status = Delivery.count_by_status.__func__  # type: ignore[attr-defined]
    calls = 0

    async def away_once(cls, firing_id):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("terminating connection due to administrator command")
        return await count_by_status(cls, firing_id)

    monkeypatch.setattr(Delivery, "count_by_status", classmethod(away_once))
    firing = await fire(qq, fired=0)
    assert (firing.status, firing.sent) == ("sending", 0)
    assert await qq.runtime.broadcaster.tick() == 0
    await firing.refresh_from_db()
    assert_finished(firing, await Delivery.count_by_status(firing.id))
    assert (firing.sent, firing.failed) == (GROUPS - GROUPS // 2, GROUPS // 2)
    assert len(qq.delivered) == GROUPS - GROUPS // 2  # none posted again
