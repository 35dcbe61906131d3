"""工作台的页面：每页只看得到自己范围内的人和事；网页上的操作和聊天命令一样通知、一样记审计。"""

from __future__ import annotations

import html as htmllib
import json
import re

import pytest

from models.deliveries import Delivery
from models.requests import ServiceRequest
from models.web import AuditEntry
from tests.webtools import admin_config, login, post_form, two_communities


@pytest.fixture
def config(db_url):
    return admin_config(db_url)


@pytest.fixture
async def town(client, console, demo):
    """g1 bound to SQ001 (secretary), g2 bound to SQ002 (sq2, an officer there); a request each."""
    await two_communities(console)
    mine = await console.one("/诉求 3号楼楼道灯坏了", user="bob", group="g1")
    theirs = await console.one("/诉求 光明小区垃圾没人清", user="carol", group="g2")
    return {
        "mine": re.search(r"Q\d{10}", mine).group(0),
        "theirs": re.search(r"Q\d{10}", theirs).group(0),
    }


async def test_overview_shows_my_scope_with_charts(client, console, town):
    html = await login(client, console, "secretary")
    assert "本月概况" in html and "和平社区党委" in html
    received = re.search(r'id="kpi-received".*?class="value">(\d+)<', html, re.S).group(1)
    assert received == "1"  # SQ002's request is not counted
    for chart in ("per_day", "by_category", "by_org", "meetings"):
        assert f'id="chart-{chart}"' in html
    # this month's requests per organisation: the scope's own, SQ002's left out
    by_org = re.search(r'id="chart-by_org" data-chart="([^"]*)"', html).group(1)
    chart = json.loads(htmllib.unescape(by_org))
    assert (chart["labels"], chart["values"]) == (["和平社区党委"], [1])
    assert "/admin/static/vendor/echarts.min.js" in html
    js = await client.get("/admin/static/vendor/echarts.min.js")
    assert js.status == 200 and len(await js.read()) > 500_000


async def test_queue_and_detail_in_scope_only(client, console, town):
    await login(client, console, "secretary")
    queue = await (await client.get("/admin/requests")).text()
    assert town["mine"] in queue and town["theirs"] not in queue
    assert "剩 " in queue
    other = await client.get(f"/admin/requests/{town['theirs']}")
    assert other.status == 403
    assert "光明小区" not in await other.text()
    mine = await (await client.get(f"/admin/requests/{town['mine']}")).text()
    assert "3号楼楼道灯坏了" in mine and "提交诉求" in mine
    assert "mine=1" not in mine
    empty = await (await client.get("/admin/requests?mine=1")).text()
    assert town["mine"] not in empty


async def test_actions_notify_and_are_audited_like_chat(client, console, town):
    await login(client, console, "secretary")
    no = town["mine"]
    path = f"/admin/requests/{no}"
    resp = await post_form(client, f"{path}/accept", {}, path)
    assert resp.status == 302 and resp.headers["Location"] == path
    from bot.app import RUNTIME

    await client.app[RUNTIME].settle()
    page = await (await client.get(path)).text()
    assert "已接单" in page and "办理中" in page
    told = await Delivery.filter(target="console:g1").order_by("-id").first()
    assert told.text.startswith(f"您的诉求 {no} 已有专人办理")
    # the same refusal as chat for a wrong step, and nothing changes
    resp = await post_form(client, f"{path}/accept", {}, path)
    assert "办理中" in await (await client.get(path)).text()
    empty = await post_form(client, f"{path}/close", {"text": "  "}, path)
    assert empty.status == 302
    usage = await (await client.get(path)).text()
    assert "/回单 编号 办理结果" in usage or "用法" in usage
    done = await post_form(client, f"{path}/close", {"text": "已更换灯泡"}, path)
    assert done.status == 302
    await client.app[RUNTIME].settle()
    assert (await ServiceRequest.get(number=no)).status == "closed"
    told = await Delivery.filter(target="console:g1").order_by("-id").first()
    assert f"您的诉求 {no} 已办结，" in told.text  # the group hears it moved, not the result
    audit = [
        (a.action, a.via, a.source)
        for a in await AuditEntry.filter(action__in=("accept", "close")).order_by("id")
    ]
    assert audit == [("accept", "web", "127.0.0.1"), ("close", "web", "127.0.0.1")]


async def test_actions_outside_scope_are_refused(client, console, town):
    await login(client, console, "secretary")
    path = f"/admin/requests/{town['theirs']}"
    resp = await post_form(client, f"{path}/accept", {}, "/admin/requests")
    assert resp.status == 302
    assert (await ServiceRequest.get(number=town["theirs"])).status == "received"


def received_in(html: str) -> str:
    return re.search(r'id="kpi-received".*?class="value">(\d+)<', html, re.S).group(1)


async def test_a_big_scope_keeps_its_figures_for_minutes(client, console, town, monkeypatch):
    """Figures of a scope above BIG_SCOPE_BRANCHES are worked out at most every 5 minutes
    and the page says when; a smaller scope's are always fresh."""
    from bot.app import RUNTIME
    from bot.clock import ManualClock
    from handlers.workbench import figures

    html = await login(client, console, "secretary")
    assert received_in(html) == "1" and "数据截至" not in html
    await console.one("/诉求 5号楼电梯坏了", user="bob", group="g1")
    assert received_in(await (await client.get("/admin/")).text()) == "2"
    monkeypatch.setattr(figures, "BIG_SCOPE_BRANCHES", -1)
    runtime = client.app[RUNTIME]
    clock = runtime.clock = ManualClock(runtime.clock.now())
    first = await (await client.get("/admin/")).text()
    assert received_in(first) == "2" and "数据截至" in first
    await console.one("/诉求 6号楼电梯也坏了", user="bob", group="g1")
    assert received_in(await (await client.get("/admin/")).text()) == "2"
    clock.advance(minutes=figures.FIGURES_SECONDS / 60 + 1)
    later = await (await client.get("/admin/")).text()
    assert received_in(later) == "3" and "数据截至" in later


def kpi(html: str, key: str) -> tuple[str, str]:
    """(this month, last month) of one KPI card."""
    card = re.search(rf'id="kpi-{key}".*?class="value">([^<]*)<.*?上月 ([^<↑↓\s]*)', html, re.S)
    assert card, key
    return card.group(1), card.group(2)


async def test_activity_figures_count_my_scope_by_month(client, console, town):
    """Held = open and ended, by start month; attendances at any activity of the month."""
    from datetime import UTC, datetime, timedelta

    from bot.app import RUNTIME
    from bot.clock import ManualClock
    from models.activities import Activity, Signup
    from models.people import Organization, Person

    now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    client.app[RUNTIME].clock = ManualClock(now)
    mine, theirs = await Organization.get(code="SQ001"), await Organization.get(code="SQ002")
    people = await Person.all().order_by("id").limit(3)

    async def activity(org, starts, hours=2, status="open", attended=0, absent=0):
        a = await Activity.create(
            org=org, title="t", starts_at=starts, ends_at=starts + timedelta(hours=hours),
            signup_deadline=starts, status=status, created_at=now, updated_at=now,
        )  # fmt: skip
        for i, who in enumerate(people[: attended + absent]):
            at = starts if i < attended else None
            await Signup.create(
                activity=a, person=who, status="confirmed", attended_at=at,
                created_at=now, updated_at=now,
            )  # fmt: skip

    await activity(mine, now - timedelta(days=2), attended=2, absent=1)  # held
    await activity(mine, now - timedelta(hours=1), attended=1)  # not ended yet
    await activity(mine, now - timedelta(days=3), status="cancelled")
    await activity(mine, now - timedelta(days=30), attended=1)  # last month, held
    await activity(theirs, now - timedelta(days=2), attended=3)  # another community's
    html = await login(client, console, "secretary")
    assert kpi(html, "activities_held") == ("1", "1")
    assert kpi(html, "attended") == ("3", "1")


async def test_flow_and_lost_figures_count_my_scope_by_month(client, console, town):
    """Flow in / out by the check-in's and the leaving's month; new lost contact by the
    month the person went onto the ladder; another community's rows not at all."""
    from datetime import UTC, datetime, timedelta

    from bot.app import RUNTIME
    from bot.clock import ManualClock
    from models.checkin import CheckIn
    from models.grids.ladder import ContactLadder
    from models.people import Organization, Person

    now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    client.app[RUNTIME].clock = ManualClock(now)
    mine, theirs = await Organization.get(code="SQ001"), await Organization.get(code="SQ002")
    last_month = now - timedelta(days=30)
    for i, (org, came, left, lost) in enumerate(
        [
            (mine, now, None, now),  # in this month, lost this month
            (mine, last_month, now, last_month),  # in last month, out this month
            (mine, last_month, last_month, None),  # in and out last month
            (theirs, now, now, now),  # another community's
        ]
    ):
        who = await Person.create(real_name=f"流动{i}", home_org=org)
        await CheckIn.create(person=who, org=org, checked_in_at=came, left_at=left)
        if lost:
            await ContactLadder.create(person=who, stage="suspected", since=lost)
    html = await login(client, console, "secretary")
    assert kpi(html, "flow_in") == ("1", "2")
    assert kpi(html, "flow_out") == ("1", "1")
    assert kpi(html, "lost") == ("1", "1")
