"""网格：/走访、转为诉求、/我的网格、/网格统计，在聊天里用（/console，真实 HTTP，手动时钟）。"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import RUNTIME
from bot.clock import ManualClock
from bot.identity import IdentityService
from models.grids.households import Household, Visit
from models.people import Organization
from models.requests import ServiceRequest
from tests.conftest import grant_officer

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


async def grant(user: str, role: str, code: str) -> int:
    identity = IdentityService()
    person = await identity.ensure_person("console", user, user)
    await identity.grant(person, role, await Organization.get(code=code))
    return person.id


async def add_household(code: str, address: str, head: str, phone: str = "", worker=None,
                        tags=(), member=None) -> Household:  # fmt: skip
    grid = await Organization.get(code=code)
    row, _ = await Household.upsert(
        grid, address, cst(2026, 1, 1), head_name=head, phone=phone, tags=tags,
        worker_id=worker, member_id=member,
    )  # fmt: skip
    return row


@pytest.fixture
async def grids(console, demo, client):
    """WG01 (gw1) and WG02 (gw2) under SQ001; g1 bound to SQ001; 5 March 2026, 10:00."""
    sq1 = await Organization.get(code="SQ001")
    await Organization.create_in_tree("WG02", "和平社区第二网格", "grid", sq1)
    gw1 = await grant("gw1", "grid_worker", "WG01")
    gw2 = await grant("gw2", "grid_worker", "WG02")
    await grant_officer("sq2", "SQ002")
    await add_household("WG01", "5栋3单元301", "张大爷", "13800001111", gw1, ["独居老人"])
    await add_household("WG01", "5-2-301", "李奶奶", "13800002222", gw1)
    await add_household("WG01", "6栋1单元101室", "王五", "", gw1)
    await add_household("WG02", "7-1-101", "赵六", "13900003333", gw2)
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    runtime = client.server.app[RUNTIME]
    runtime.clock = ManualClock(cst(2026, 3, 5, 10, 0))
    console.runtime = runtime
    return console


async def test_visit_in_one_line_shows_progress_and_offers_a_request(grids):
    c = grids
    reply = await c.one("/走访 5栋3单元301 电话 反映下水道堵", user="gw1")
    assert reply == (
        "已记下走访：5栋3单元301 张大爷，电话，2026-03-05。\n"
        "情况：反映下水道堵\n"
        "今年进度：已走访 1/3 户，走访满 4 次的 0 户。\n"
        "该走访了（2 户）：5-2-301 李奶奶（今年 0 次）、6栋1单元101室 王五（今年 0 次）\n"
        "这像是居民的诉求：回复 1 转为诉求（回复别的就不转）。"
    )
    v = await Visit.get().select_related("household", "worker")
    assert (v.mode, v.note, str(v.visited_on), v.household.head_name) == (
        "phone", "反映下水道堵", "2026-03-05", "张大爷"
    )  # fmt: skip
    assert v.request_id is None
    filed = await c.one("1", user="gw1")
    req = await ServiceRequest.get().select_related("org", "requester")
    assert filed.startswith(f"已把这次走访转为诉求，编号 {req.number}，交“和平社区第一网格”办理。")
    assert "类别：其他　地点：5栋3单元301" in filed
    assert (req.org.code, req.requester.name, req.content) == (
        "WG01",
        "gw1",
        "反映下水道堵",
    )
    await v.refresh_from_db()
    assert v.request_id == req.id
    # "1" again is the /帮助 menu again, not a second request
    await c.say("1", user="gw1")
    assert await ServiceRequest.all().count() == 1


async def test_a_visit_that_is_not_a_request_and_declining_the_offer(grids):
    c = grids
    reply = await c.one("/走访 王五 身体很好", user="gw1")
    assert reply.startswith("已记下走访：6栋1单元101室 王五，上门，2026-03-05。")
    assert "转为诉求" not in reply
    assert "回复 1 转为诉求" in await c.one("/走访 李奶奶 微信 希望加装扶手", user="gw1")
    assert await c.one("不用了", user="gw1") == ("好的，这次走访不转为诉求。以后要提可以用 /诉求。")
    assert await ServiceRequest.all().count() == 0
    assert await Visit.filter(mode="wechat").count() == 1


async def test_ambiguous_or_unknown_places_are_asked_back_and_nothing_is_written(grids):
    c = grids
    await add_household("WG01", "5-3-302", "钱七", "", None)
    reply = await c.one("/走访 5栋301 上门", user="gw1")
    assert reply == (
        "在您的网格里没有找到“5栋301”。您是说：5-2-301 李奶奶、5栋3单元301 张大爷？"
        "请照这样再写一次。"
    )
    assert "5-3-302 钱七" in await c.one("/走访 5栋3单元303", user="gw1")
    assert "请写楼栋-单元-室" in await c.one("/走访 火星基地", user="gw1")
    assert "/走访 的格式不对" in await c.one("/走访", user="gw1")
    assert await Visit.all().count() == 0


async def test_a_grid_member_sees_only_their_grid_and_phones_masked(grids):
    c = grids
    # gw2 cannot reach WG01's households, even by their exact address or name
    assert "没有找到“5栋3单元301”" in await c.one("/走访 5栋3单元301", user="gw2")
    assert "没有找到“张大爷”" in await c.one("/走访 张大爷", user="gw2")
    mine = await c.one("/我的网格", user="gw2")
    assert "赵六 139****3333" in mine and "张大爷" not in mine and "13900003333" not in mine
    mine1 = await c.one("/我的网格", user="gw1")
    assert "张大爷 138****1111（独居老人）" in mine1 and "13800001111" not in mine1
    # households, names and notes never go to a group
    assert "请私聊" in await c.one("/走访 5栋3单元301", user="gw1", group="g1")
    assert "请私聊" in await c.one("/我的网格", user="gw1", group="g1")
    # residents and officers without a grid cannot use the grid member's commands
    assert "只有网格员可以使用" in await c.one("/走访 5栋3单元301", user="bob")
    assert await Visit.all().count() == 0


async def test_quotas_and_progress_across_a_year(grids):
    c = grids
    clock = c.runtime.clock

    async def visit(day: datetime, place: str) -> str:
        clock.set(day)
        return await c.one(f"/走访 {place}", user="gw1")

    # Q1: 张大爷 visited; the other two are due
    await visit(cst(2026, 3, 5, 10), "5栋3单元301")
    mine = await c.one("/我的网格", user="gw1")
    lines = mine.splitlines()
    assert lines[0] == "我的网格：3 户。"
    assert lines[1].startswith("1. [该走访] 5-2-301 李奶奶 138****2222　上次：未走访　今年 0 次")
    assert (
        lines[3].startswith("3. 5栋3单元301 张大爷") and "上次：2026-03-05　今年 1 次" in lines[3]
    )
    # Q2 (May): one visit is no longer enough
    clock.set(cst(2026, 5, 2, 9))
    mine = await c.one("/我的网格", user="gw1")
    assert "该走访了（3 户）" in mine
    # the whole year: four visits to 张大爷, one per quarter; one to 王五
    for month in (5, 8, 11):
        await visit(cst(2026, month, 10, 10), "5栋3单元301")
    reply = await visit(cst(2026, 11, 20, 10), "王五")
    assert "今年进度：已走访 2/3 户，走访满 4 次的 1 户。" in reply
    assert "该走访了（2 户）：5-2-301 李奶奶（今年 0 次）、6栋1单元101室 王五（今年 1 次）" in reply
    stats = await c.one("/网格统计", user="secretary", group="g1")
    assert stats.splitlines()[0] == "“和平社区党委”网格统计（2026 年，每户每年 4 次，每人 20 户）："
    assert "gw1（和平社区第一网格）：3 户，覆盖 2 户（67%），落后进度 2 户" in stats
    assert "每月走访：1月 0 · 2月 0 · 3月 1 · 4月 0 · 5月 1 · 6月 0 · 7月 0 · 8月 1" in stats
    assert "11月 2" in stats
    assert "gw2（和平社区第二网格）：1 户，覆盖 0 户（0%），落后进度 1 户" in stats
    # a new year starts from zero
    clock.set(cst(2027, 1, 3, 9))
    assert "今年进度：已走访 0/3 户，走访满 4 次的 0 户。" in await c.one("/我的网格", user="gw1")


async def test_grid_stats_is_for_officers_of_the_organisation(grids):
    c = grids
    assert "只有党务工作者可以使用" in await c.one("/网格统计", user="gw1")
    assert "看不了它的网格统计" in await c.one("/网格统计 SQ001", user="sq2")
    assert "“光明社区党委”下还没有住户。" == await c.one("/网格统计", user="sq2")
    assert "网格统计" in await c.one("/网格统计 WG02", user="secretary")
    c.runtime.config.grids.households_per_worker = 2  # the quota of households per member
    assert "gw1（和平社区第一网格）：3 户（超配额 1 户）" in await c.one(
        "/网格统计", user="secretary"
    )
    assert (await c.one("/我的网格", user="gw1")).startswith(
        "我的网格：3 户（超过每人 2 户的配额 1 户）。"
    )
    assert "没有找到组织代码“NOPE”" in await c.one("/网格统计 NOPE", user="secretary")
