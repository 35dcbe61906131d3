"""Issue #11's reproductions that had no test of their own, each as it was met from
outside: the hostile arguments and platform ids of item 3, text cleaned at the edge of
every channel (item 4), /转单 straight from received and one zone for everything (item 9).
The fault suite (a running `lianxin serve`) is tests/test_faults.py."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest

from bot.app import RUNTIME
from bot.clock import quarter_range, set_zone
from bot.templates import Templates
from models.deliveries import Delivery
from models.events import InboundEvent
from models.people import Identity, Person
from models.requests import ServiceRequest
from tests.conftest import grant_officer, make_config
from tests.onebot_channel.tools import SECRET, Cqhttp
from tests.wechat_channel.tools import TOKEN, WechatPush, text_xml

APOLOGY = Templates().render("error")


@pytest.fixture
def config(db_url: str):
    """Console, WeChat (plain) and OneBot v11 on, as a deployment with two platforms;
    bodies up to 256 KiB, so the console can carry a 20,000-character name as JSON."""
    return make_config(
        db_url,
        server={"max_body_bytes": 256 * 1024},
        wechat={"enabled": True, "token": TOKEN, "mode": "plain"},
        onebot={"enabled": True, "secret": SECRET},
    )


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001 (secretary); kezhang officer of BM01 (a department)."""
    await grant_officer("kezhang", "BM01")
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    return console


# -- item 3: the reproductions not in tests/test_fuzz_commands.py --------------------


@pytest.mark.parametrize(
    "text",
    [
        "/失联 " + "1" * 30,
        "/广播 " + "1" * 30,
        "/取消广播 " + "1" * 30,
        "/我的诉求 " + "9" * 5000,
        "/兑换 " + "张" * 20_000 + " 1 x",
    ],
)
async def test_out_of_range_arguments_get_the_usage(town, text, caplog):
    caplog.set_level(logging.ERROR)
    reply = await town.one(text, user="secretary")
    assert reply.startswith(text.split()[0] + " 的格式不对") and "用法：" in reply, reply[:80]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_lost_contact_query_of_eight_digits_is_an_answer(town, caplog):
    caplog.set_level(logging.ERROR)
    reply = await town.one("/失联 99999999", user="secretary")
    assert reply != APOLOGY and "99999999" in reply, reply
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_over_long_platform_ids_are_refused_quietly(client, caplog):
    """A 30 KB WeChat FromUserName, a 4,000-digit OneBot user_id: no person, no apology."""
    caplog.set_level(logging.ERROR)
    wechat = WechatPush(client)
    huge = "o" * 30_000
    assert await wechat.exchange(text_xml("/我", wechat.msg_id(), openid=huge)) == "success"
    cq = Cqhttp(client)
    resp = await cq.post(cq.private("/我", user=int("9" * 4000)))
    assert resp.status in (200, 204)
    assert APOLOGY not in await resp.text()
    assert await Identity.all().count() == 0 and await Person.all().count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # the same channels still serve ordinary ids
    assert "平台身份：wechat:" in await wechat.say("/我")
    assert "平台身份：onebot:" in (await cq.send(cq.private("/我")))["reply"]


# -- item 4: text cleaned once, where the Inbound is built, on every channel ---------


async def test_a_lone_surrogate_echoed_back_is_a_reply_not_a_503(client, console):
    # JSON's \\ud800 escape is how a lone surrogate reaches us (it is not valid UTF-8).
    cq = Cqhttp(client)
    payload = cq.private("/x\ud800y")
    body = json.dumps(payload).encode()  # ensure_ascii: the surrogate as an escape
    resp = await cq.post(None, body=body)
    assert resp.status == 200, await resp.text()
    assert "“/xy”" in (await resp.json())["reply"]
    assert "“/xy”" in await console.one("/x\ud800y")


async def test_nul_and_bidi_controls_never_reach_the_database(town):
    c = town
    # a NUL failed every PostgreSQL write; U+202E was stored and shown to officers
    await c.one("/改称呼", user="bob", name="鲍\u202e勃")
    assert await c.one("小\x00周\u2066", user="bob") == "好的，以后就称呼您“小周”。"
    assert (await Person.get(identities__user_id="bob")).display_name == "小周"
    filed = await c.one(
        "/诉求 路灯\x00坏了\u202e，请修", user="carol", group="g1", name="卡\u202e罗"
    )
    no = re.search(r"Q\d{10}", filed).group(0)
    assert (await ServiceRequest.get(number=no)).content == "路灯坏了，请修"
    notice = await Delivery.get(target="console:secretary", purpose="request")
    assert "路灯坏了，请修" in notice.text and "\u202e" not in notice.text


async def test_a_wechat_message_with_controls_is_cleaned(client):
    wechat = WechatPush(client)
    # (XML cannot carry a NUL; bidi controls it can)
    assert "平台身份：wechat:" in await wechat.say("/\u202e我\u2069")
    assert await InboundEvent.filter(platform="wechat").count() == 1


# -- item 9: /转单 straight from received; one zone ------------------------------


async def test_forward_a_request_nobody_accepted_yet(town):
    """派单: README's diagram allows received → forwarded; /转单 no longer says 请先 /接单."""
    c = town
    no = re.search(r"Q\d{10}", await c.one("/诉求 小区门口占道经营", user="bob", group="g1"))[0]
    fwd = await c.one(f"/转单 {no} BM01 需要城管处理", user="secretary", group="g1")
    assert fwd == f"已把 {no} 转给“街道城管科”（BM01），已通知对方。"
    assert (await ServiceRequest.get(number=no)).status == "forwarded"
    assert "说明：需要城管处理" in (await Delivery.get(target="console:kezhang")).text
    assert "已接单" in await c.one(f"/接单 {no}", user="kezhang")


async def test_two_changes_in_the_same_second_are_two_notices(town, client):
    """Notice keys were the change's time in whole seconds: the second change was lost."""
    from bot.clock import ManualClock
    from tests.test_activities_chat import publish

    c = town
    act = await publish(c)
    await c.one(f"/报名 {act.id}", user="bob")
    rt = client.server.app[RUNTIME]
    rt.clock = ManualClock(datetime.now(UTC).replace(microsecond=0))  # time stands still
    for place, event_id in (("二楼", ""), ("三楼", ""), ("四楼", "e-4")):
        await c.one(
            f"/修改活动 {act.id} 地点 党群服务中心{place}", user="secretary", event_id=event_id
        )
    told = [d.text for d in await Delivery.filter(target="console:bob", purpose="activity")]
    for place in ("二楼", "三楼", "四楼"):
        assert sum(f"地点：党群服务中心{place}" in t for t in told) == 1, (place, told)


async def test_one_zone_for_quiet_hours_and_quarters(aiohttp_client, db_url):
    """[bot] timezone (here UTC) is the zone of the broadcaster's quiet hours and of the
    quarter ranges, not only of parsing."""
    from bot.app import create_app

    client = await aiohttp_client(create_app(make_config(db_url, bot={"timezone": "UTC"})))
    try:
        rt = client.server.app[RUNTIME]
        quiet = rt.broadcaster.quiet  # 22:00–07:00 local
        assert quiet.contains(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # 07:00 in Beijing
        assert not quiet.contains(datetime(2026, 12, 1, 14, 30, tzinfo=UTC))  # 22:30 there
        # 30 September 20:00 UTC is still the third quarter here (the fourth in Beijing)
        assert quarter_range(datetime(2026, 9, 30, 20, 0, tzinfo=UTC)) == (
            datetime(2026, 7, 1, tzinfo=UTC),
            datetime(2026, 10, 1, tzinfo=UTC),
        )
    finally:
        set_zone("Asia/Shanghai")  # the default, for the tests that follow in this process
