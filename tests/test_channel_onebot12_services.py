"""The services in a WeChat group over OneBot 12: a request's lifecycle (filed, accepted,
the member told in the same group), a retried event acting once, a broadcast to the group."""

from __future__ import annotations

import re

from bot.app import RUNTIME
from bot.demo import seed
from models.deliveries import Delivery
from models.people import Organization
from models.requests import ServiceRequest
from tests.fakes.onebot12_api import FakeOnebot12
from tests.test_channel_onebot12 import GROUP, make_bridge, post

MEMBER, OFFICER = "wxid_member", "wxid_officer"


async def say(fake: FakeOnebot12, client, user: str, words: str, event=None) -> str:
    """Post a group message and return what the bot said back to the group."""
    before = len(fake.delivered)
    event = event or fake.message_event(words, user=user, group=GROUP)
    assert await post(fake, client, event) == 204
    replies = [d for d in fake.delivered[before:] if d["mentions"] == [user]]
    assert len(replies) == 1, fake.delivered[before:]
    assert replies[0]["group_id"] == GROUP
    return replies[0]["text"].strip()


async def test_request_lifecycle_in_a_wechat_group(aiohttp_client, aiohttp_server, db_url):
    fake, client = await make_bridge(aiohttp_client, aiohttp_server, db_url)
    runtime = client.app[RUNTIME]
    await seed()
    # The officer is the personal-WeChat person onebot12:wechat:<wxid>.
    officer = await runtime.identity.ensure_person("onebot12", f"wechat:{OFFICER}", "王书记")
    await runtime.identity.grant(officer, "officer", await Organization.get(code="SQ001"))

    assert (await say(fake, client, OFFICER, "/绑定 SQ001")).startswith(
        "已把本群绑定到“和平社区党委”"
    )
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
    # The member is told in the same group, through send_message to the group.
    told = [d["text"] for d in fake.delivered if d["group_id"] == GROUP and not d["mentions"]]
    assert any(t.startswith(f"新诉求 {number}") for t in told)
    assert f"您的诉求 {number} 已有专人办理。查看进度：/进度 {number}" in told
    rows = await Delivery.filter(target=f"onebot12-group:wechat:{GROUP}")
    assert rows and all(r.status == "sent" for r in rows)
