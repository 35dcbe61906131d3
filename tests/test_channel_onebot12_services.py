"""The services in a WeChat group over OneBot 12: a request's lifecycle (filed, accepted,
the member told in the same group), a retried event acting once, a broadcast to the group."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.app import RUNTIME
from bot.clock import ManualClock
from bot.demo import seed
from models.deliveries import Delivery
from models.people import Organization
from models.requests import ServiceRequest
from tests.fakes.onebot12_api import FakeOnebot12
from tests.test_channel_onebot12 import GROUP, make_bridge, post

MEMBER, OFFICER = "wxid_member", "wxid_officer"
CST = ZoneInfo("Asia/Shanghai")


async def say(fake: FakeOnebot12, client, user: str, words: str, event=None) -> str:
    """Post a group message and return what the bot said back to the group."""
    before = len(fake.delivered)
    event = event or fake.message_event(words, user=user, group=GROUP)
    assert await post(fake, client, event) == 204
    replies = [d for d in fake.delivered[before:] if d["mentions"] == [user]]
    assert len(replies) == 1, fake.delivered[before:]
    assert replies[0]["group_id"] == GROUP
    return replies[0]["text"].strip()


async def bound_group(aiohttp_client, aiohttp_server, db_url):
    """The demo tree; OFFICER (the person onebot12:wechat:<wxid>) an officer of SQ001 who
    binds the WeChat group to it."""
    fake, client = await make_bridge(aiohttp_client, aiohttp_server, db_url)
    runtime = client.app[RUNTIME]
    await seed()
    officer = await runtime.identity.ensure_person("onebot12", f"wechat:{OFFICER}", "王书记")
    await runtime.identity.grant(officer, "officer", await Organization.get(code="SQ001"))
    assert (await say(fake, client, OFFICER, "/绑定 SQ001")).startswith(
        "已把本群绑定到“和平社区党委”"
    )
    return fake, client, runtime


async def test_request_lifecycle_in_a_wechat_group(aiohttp_client, aiohttp_server, db_url):
    fake, client, _ = await bound_group(aiohttp_client, aiohttp_server, db_url)
    filing = fake.message_event("/诉求 楼道灯坏了，晚上很黑", user=MEMBER, group=GROUP)
    filed = await say(fake, client, MEMBER, "", event=filing)
    number = re.search(r"Q\d{10}", filed).group(0)
    assert filed.startswith(f"诉求已提交，编号 {number}。")
    # The bridge retries the same event: nothing is filed or said twice.
    sent_before = len(fake.delivered)
    assert await post(fake, client, filing) == 204
    assert len(fake.delivered) == sent_before
    assert await ServiceRequest.all().count() == 1

    assert (await say(fake, client, OFFICER, f"/接单 {number}")).startswith(
        f"已接单：{number} 由您办理"
    )
    req = await ServiceRequest.get(number=number)
    assert req.status == "in_progress"
    # The member is told in the same group, through send_message to the group; the
    # officers' notice of the new request went to the officer in private, not there.
    told = [d["text"] for d in fake.delivered if d.get("group_id") == GROUP and not d["mentions"]]
    assert not any(t.startswith(f"新诉求 {number}") for t in told)
    private = [d["text"] for d in fake.delivered if d.get("user_id") == OFFICER]
    assert any(t.startswith(f"新诉求 {number}") for t in private)
    assert f"您的诉求 {number} 已有专人办理。查看进度：/进度 {number}" in told
    rows = await Delivery.filter(target=f"onebot12-group:wechat:{GROUP}")
    assert rows and all(r.status == "sent" for r in rows)


async def test_broadcast_to_a_wechat_group(aiohttp_client, aiohttp_server, db_url):
    fake, client, runtime = await bound_group(aiohttp_client, aiohttp_server, db_url)
    runtime.clock = ManualClock(datetime(2026, 11, 22, 10, 0, tzinfo=CST))
    assert await runtime.broadcaster.elect()

    scheduled = await say(fake, client, OFFICER, "/定时 每天 08:00 早上好，今天是{{日期}}")
    assert scheduled.startswith("已安排广播 #") and "发给：本群" in scheduled
    fake.delivered.clear()
    runtime.clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=CST))
    assert await runtime.broadcaster.tick() == 1
    assert [(d["group_id"], d["text"], d["mentions"]) for d in fake.delivered] == [
        (GROUP, "早上好，今天是11月23日", [])
    ]
    target = f"onebot12-group:wechat:{GROUP}"
    sent = await Delivery.get(target=target, purpose="broadcast")
    assert (sent.status, sent.error_code) == ("sent", None)

    # The next day WeChat refuses (a 34xxx platform error): recorded with its retcode.
    fake.fail_next(34002, "发送频率过快")
    runtime.clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=CST))
    await runtime.broadcaster.tick()
    failed = await Delivery.filter(target=target, purpose="broadcast").order_by("-id").first()
    assert (failed.status, failed.error_code) == ("failed", 34002)
    assert "平台拒绝发送" in failed.reason and "发送频率过快" in failed.reason
