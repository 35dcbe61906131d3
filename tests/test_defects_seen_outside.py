"""Smaller defects found from outside (issue 11, item 9), each as a person would meet it."""

from __future__ import annotations

import re

import pytest

from bot.app import RUNTIME
from models.checkin import MemberRegistration
from models.deliveries import Delivery
from models.people import Person
from tests.conftest import grant_officer, private_answer


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001 (secretary); sq2 officer of SQ002."""
    await grant_officer("sq2", "SQ002")
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    return console


def number_in(text: str) -> str:
    m = re.search(r"编号 (\d+)", text)
    assert m, text
    return m.group(1)


async def register_outside(c, user: str = "bob") -> str:
    """A registrant whose branch is outside the system, confirmed by SQ001."""
    for answer in ("/登记", "张三", "13800001234", "广州市某某公司党支部", "SQ001", "1"):
        await c.one(answer, user=user)
    return number_in(await c.one("是", user=user))


async def test_transfer_filed_in_private_is_recorded_and_noticed(town):
    """/转接 in private crashed at checkin_notice.j2 (tr.person on a QuerySet)."""
    c = town
    for answer in ("/转接", "ZB001", "SQ002"):
        await c.one(answer, user="bob", name="小王")
    filed = await c.one("工作调动", user="bob", name="小王")
    assert "编号" in filed and "和平社区第一党支部 → 光明社区党委" in filed
    notice = await Delivery.get(target="console:secretary", purpose="checkin")
    assert notice.text.startswith(f"新的接转申请 {number_in(filed)}：小王，")


async def test_nickname_is_stored_for_people_made_elsewhere(town, client):
    """People made by `lianxin admin grant` or an import had no name: officers saw "#12"."""
    rt = client.server.app[RUNTIME]
    person = await rt.identity.ensure_person("console", "grantee")  # as the CLI does
    assert (await Person.get(id=person.id)).name == f"居民（编号{person.id}）"
    await town.say("/我", user="grantee", name="李四")
    assert (await Person.get(id=person.id)).name == "李四"
    # the platform's name changed: followed (tests/test_nicknames.py: never over a real name)
    await town.say("/我", user="grantee", name="别的昵称")
    assert (await Person.get(id=person.id)).name == "别的昵称"


async def test_people_without_a_name_are_labelled_not_numbered(db):
    assert Person(id=7, display_name="", phone="13800001234").name == "居民（尾号1234）"
    assert Person(id=7, display_name="").name == "居民（编号7）"
    assert Person(id=7, display_name="小王").name == "小王"
    assert Person.name_of(7, None, "", phone=None) == "居民（编号7）"


async def test_pending_registration_shows_in_my_info(town):
    c = town
    await register_outside(c)
    info = await c.one("/我的信息", user="bob")
    assert "待确认的登记：张三　手机 13800001234　组织关系：广州市某某公司党支部" in info
    assert "由“和平社区党委”确认" in info


async def test_outside_branch_member_stays_with_the_confirming_organisation(town):
    c = town
    no = await register_outside(c)
    await c.one(f"/确认 {no}", user="secretary")
    assert (await MemberRegistration.get(id=int(no))).status == "confirmed"
    await c.one("/报到", user="bob", group="g1")
    assert "张三" in (await c.one("/查人 张三", user="secretary"))
    stats = await c.one("/党员统计", user="secretary")
    assert "登记党员 1 人" in stats
    # a second check-in elsewhere: SQ001 still finds and counts the person
    await c.one("/报到 SQ002", user="bob")
    assert "张三" in await c.one("/查人 张三", user="secretary")
    assert "登记党员 1 人" in await c.one("/党员统计", user="secretary")
    # and in a group the answer goes in private
    await c.one("/查人 张三", user="secretary", group="g1")
    assert "张三" in await private_answer("secretary")


async def test_one_zone_from_config_for_parsing_and_display(aiohttp_client, db_url):
    """`[bot] timezone` was honoured for parsing while display said Asia/Shanghai:
    /定时 每天 08:00 in UTC answered "下次 … 16:00"."""
    from datetime import UTC, datetime

    from bot.app import create_app
    from bot.clock import ManualClock, month_range, set_zone
    from bot.demo import seed
    from tests.conftest import Console, make_config

    client = await aiohttp_client(create_app(make_config(db_url, bot={"timezone": "UTC"})))
    try:
        c = Console(client)
        await seed()
        rt = client.server.app[RUNTIME]
        rt.clock = ManualClock(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
        reply = await c.one("/定时 每天 08:00 全部群 早上好", user="secretary")
        assert "时间：每天 08:00，下次 2026-12-01 08:00" in reply, reply
        # month ranges on the same clock: 30 Nov 20:00 UTC is still November here
        start, end = month_range(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
        assert (start, end) == (
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
        )
    finally:
        set_zone("Asia/Shanghai")  # the default, for the tests that follow in this process
