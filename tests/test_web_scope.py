"""待办、党员、活动、推送、台账、审计页：各自只显示本人范围内的，操作与聊天命令一致。"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from bot.app import RUNTIME
from models.checkin import MemberRegistration
from models.deliveries import Delivery
from models.people import Person
from tests.test_checkin_chat import number_in, register
from tests.webtools import admin_config, login, post_form, two_communities


@pytest.fixture
def config(db_url):
    return admin_config(db_url)


@pytest.fixture
async def town(client, console, demo):
    await two_communities(console)
    return console


async def test_every_page_answers(client, town):
    await login(client, town, "secretary")
    for path in (
        "/admin/",
        "/admin/requests?status=all",
        "/admin/approvals",
        "/admin/people",
        "/admin/people?category=lost",
        "/admin/import",
        "/admin/activities",
        "/admin/activities?month=2026-02",
        "/admin/broadcasts",
        "/admin/ledgers",
        "/admin/audit?via=chat&from=2020-01-01&to=2100-01-01",
        "/admin/sessions",
    ):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert "党务工作台" in await resp.text()


async def test_confirm_a_registration_and_the_member_sees_it(client, town):
    c = town
    no = number_in(await register(c, user="bob", name="张三", home="ZB001"))
    other = number_in(await register(c, user="dan", name="李四", phone="13800005678", home="SQ002"))
    await login(client, c, "secretary")
    page = await (await client.get("/admin/approvals")).text()
    assert "张三" in page and "13800001234" in page
    assert "李四" not in page  # SQ002's registration is not in this officer's scope
    before = await c.one("/我", user="bob")
    assert "角色：群众" in before
    resp = await post_form(
        client, f"/admin/approvals/registration/{no}/confirm", {}, "/admin/approvals"
    )
    assert resp.status == 302
    await client.app[RUNTIME].settle()
    flash = await (await client.get("/admin/approvals")).text()
    assert f"已确认登记 {no}：张三" in flash
    after = await c.one("/我", user="bob")
    assert "角色：党员（和平社区第一党支部）" in after
    # outside the scope: refused like /确认 in chat, nothing changes
    await post_form(
        client, f"/admin/approvals/registration/{other}/confirm", {}, "/admin/approvals"
    )
    assert (await MemberRegistration.get(id=int(other))).status == "pending"
    # decline needs a reason: the command's usage comes back
    third = number_in(await register(c, user="eve", name="王五", phone="13800009999"))
    await post_form(
        client, f"/admin/approvals/registration/{third}/decline", {"reason": ""}, "/admin/approvals"
    )
    assert (await MemberRegistration.get(id=int(third))).status == "pending"
    await post_form(
        client,
        f"/admin/approvals/registration/{third}/decline",
        {"reason": "手机号有误"},
        "/admin/approvals",
    )
    assert (await MemberRegistration.get(id=int(third))).status == "rejected"


async def test_people_in_scope_with_phones(client, town):
    c = town
    await c.one(f"/确认 {number_in(await register(c, user='bob', name='张三'))}", user="secretary")
    li = await register(c, user="dan", name="李四", phone="13800005678", home="SQ002")
    await c.one(f"/确认 {number_in(li)}", user="sq2")
    await login(client, c, "secretary")
    page = await (await client.get("/admin/people")).text()
    assert "张三" in page and "13800001234" in page and "李四" not in page
    assert "全部党员 1<" in page and "正式党员 1<" in page and "口袋党员 0<" in page
    found = await (await client.get("/admin/people?q=1234")).text()
    assert "张三" in found
    nobody = await (await client.get("/admin/people?q=李四")).text()
    assert "没有找到“李四”" in nobody and "13800005678" not in nobody
    zhang = await Person.get(real_name="张三")
    li = await Person.get(real_name="李四")
    record = await client.get(f"/admin/people/{zhang.id}")
    assert record.status == 200 and "13800001234" in await record.text()
    refused = await client.get(f"/admin/people/{li.id}")
    assert refused.status == 403 and "13800005678" not in await refused.text()
    # the lost-contact list, as /失联 reads the ladder (models/grids/ladder.py)
    from datetime import UTC, datetime, timedelta

    from models.grids.ladder import ContactLadder

    now = datetime.now(UTC)
    for who in (zhang, li):
        await ContactLadder.create(
            person=who, stage="lost", since=now, last_contact_at=now - timedelta(days=230)
        )
    lost = await (await client.get("/admin/people?category=lost")).text()
    assert "张三" in lost and "李四" not in lost and "失联，7 个月未联系" in lost
    assert "失联/疑似失联 1<" in lost


async def test_activities_publish_list_cancel(client, town):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    c = town
    day = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=10)
    await login(client, c, "secretary")
    resp = await post_form(
        client,
        "/admin/activities/publish",
        {
            "title": "主题党日：垃圾分类",
            "when": f"{day.month}月{day.day}日 14:00-16:00",
            "place": "党群服务中心",
            "capacity": "20人",
            "extra": "所有人",
        },
        "/admin/activities",
    )
    assert resp.status == 302
    page = await (await client.get(f"/admin/activities?month={day:%Y-%m}")).text()
    assert "主题党日：垃圾分类" in page
    from models.activities import Activity

    act = await Activity.get(title="主题党日：垃圾分类")
    detail = await (await client.get(f"/admin/activities/{act.id}")).text()
    assert "已报名 0，候补 0，签到 0" in detail
    # an edit from the page tells the signed-up exactly as /修改活动 does
    assert "报名成功" in await c.one(f"/报名 {act.id}", user="bob")
    await post_form(
        client,
        f"/admin/activities/{act.id}/edit",
        {"field": "地点", "value": "党群服务中心二楼"},
        f"/admin/activities/{act.id}",
    )
    assert (await Activity.get(id=act.id)).place == "党群服务中心二楼"
    assert await client.app[RUNTIME].settle()  # the notice goes out after the commit
    told = await Delivery.filter(target="console:bob", purpose="activity").first()
    assert told.text.startswith("活动变更：") and "地点：党群服务中心二楼" in told.text
    await post_form(
        client,
        f"/admin/activities/{act.id}/cancel",
        {"reason": "场地维修"},
        f"/admin/activities/{act.id}",
    )
    assert (await Activity.get(id=act.id)).status == "cancelled"
    await login(client, c, "sq2")
    assert (await client.get(f"/admin/activities/{act.id}")).status == 403


async def test_ledgers_only_for_my_organisations(client, town):
    await login(client, town, "secretary")
    ok = await client.get("/admin/ledgers/download?what=members&org=SQ001")
    assert ok.status == 200
    sheet = load_workbook(io.BytesIO(await ok.read())).active
    assert sheet.max_row >= 1
    req = await client.get(
        "/admin/ledgers/download?what=requests&org=SQ001&from=2026-01-01&to=2026-12-31"
    )
    assert req.status == 200
    assert (await client.get("/admin/ledgers/download?what=members&org=SQ002")).status == 403
    assert (await client.get("/admin/ledgers/download?what=nope&org=SQ001")).status == 403


async def test_audit_shows_my_scope_only(client, town):
    c = town
    await login(client, c, "secretary")
    page = await (await client.get("/admin/audit")).text()
    assert "console:g1" in page and "console:g2" not in page  # sq2's /绑定 is not in scope
    assert "bind" in page


async def test_broadcasts_listed_and_cancelled(client, town):
    c = town
    made = await c.one("/定时 每天 8:00 早上好", user="secretary", group="g1")
    theirs = await c.one("/定时 每天 9:00 光明社区通知", user="sq2", group="g2")
    assert "早上好" not in theirs
    await login(client, c, "secretary")
    page = await (await client.get("/admin/broadcasts")).text()
    assert "早上好" in page and "光明社区通知" not in page, made
    from models.broadcasts import Broadcast

    b = await Broadcast.get(content__contains="早上好")
    await post_form(client, f"/admin/broadcasts/{b.id}/cancel", {}, "/admin/broadcasts")
    assert (await Broadcast.get(id=b.id)).status != "active"
    other = await Broadcast.get(content__contains="光明社区")
    await post_form(client, f"/admin/broadcasts/{other.id}/cancel", {}, "/admin/broadcasts")
    assert (await Broadcast.get(id=other.id)).status == "active"


async def test_a_big_scope_keeps_its_people_counts_for_minutes(client, town, monkeypatch):
    """Above BIG_SCOPE_BRANCHES the category counts are kept 5 minutes (the page says
    since when); the list itself is read each time."""
    from bot.clock import ManualClock
    from handlers.workbench import figures

    c = town
    await c.one(f"/确认 {number_in(await register(c, user='bob', name='张三'))}", user="secretary")
    await login(client, c, "secretary")
    monkeypatch.setattr(figures, "BIG_SCOPE_BRANCHES", -1)
    runtime = client.app[RUNTIME]
    clock = runtime.clock = ManualClock(runtime.clock.now())
    page = await (await client.get("/admin/people")).text()
    assert "全部党员 1<" in page and "人数截至" in page
    await c.one(f"/确认 {number_in(await register(c, user='eve', name='王五'))}", user="secretary")
    page = await (await client.get("/admin/people?category=all")).text()
    assert "全部党员 1<" in page and "王五" in page
    clock.advance(minutes=figures.FIGURES_SECONDS / 60 + 1)
    page = await (await client.get("/admin/people")).text()
    assert "全部党员 2<" in page and "人数截至" in page
