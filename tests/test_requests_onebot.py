"""The request lifecycle in a QQ group over OneBot: signed events in, quick-operation
replies out, notices through the OneBot HTTP API (a fake on 127.0.0.1)."""

from __future__ import annotations

import re

from bot.app import RUNTIME, create_app
from bot.demo import seed
from models.deliveries import Delivery
from models.people import Organization
from models.requests import ServiceRequest
from tests.conftest import make_config
from tests.fakes.onebot_api import FakeOnebotAPI
from tests.onebot_channel.tools import SECRET, Cqhttp, text

GROUP = 123456789
RESIDENT, OFFICER = 12345678, 87654321


async def test_lifecycle_in_a_qq_group(aiohttp_client, aiohttp_server, db_url):
    fake = await FakeOnebotAPI(access_token="tok").serve(aiohttp_server)
    config = make_config(
        db_url,
        onebot={"enabled": True, "secret": SECRET, "api_url": fake.base_url, "access_token": "tok"},
    )
    client = await aiohttp_client(create_app(config))
    runtime = client.app[RUNTIME]
    await seed()
    officer = await runtime.identity.ensure_person("onebot", str(OFFICER), "王书记")
    await runtime.identity.grant(officer, "officer", await Organization.get(code="SQ001"))
    qq = Cqhttp(client)

    async def say(user: int, words: str) -> str:
        answer = await qq.send(qq.group([text(words)], user=user, group_id=GROUP))
        await runtime.settle()
        assert answer is not None and answer["at_sender"] is True
        return answer["reply"]

    assert (await say(OFFICER, "/绑定 SQ001")).startswith("已把本群绑定到“和平社区党委”")
    filed = await say(RESIDENT, "/诉求 楼道灯坏了，晚上很黑")
    number = re.search(r"Q\d{10}", filed).group(0)
    assert filed.startswith(f"诉求已提交，编号 {number}。")
    assert (await say(RESIDENT, f"/接单 {number}")).startswith(
        "/接单 只有党务工作者（和平社区党委）可以使用"
    )
    assert (await say(OFFICER, f"/接单 {number}")).startswith(f"已接单：{number} 由您办理")
    assert (await say(OFFICER, f"/回单 {number} 已更换灯泡")).startswith(f"已回单：{number} 办结")
    assert (await say(RESIDENT, f"/评价 {number} 5 很及时")).startswith("感谢评价！")

    req = await ServiceRequest.get(number=number)
    assert (req.status, req.score) == ("rated", 5)
    # The group heard of the acceptance and the closing (not of the officers' notice of the
    # new request, which went to the officer privately), through send_group_msg with
    # auto_escape, each recorded as a sent delivery.
    told = [d["message"] for d in fake.delivered if d.get("group_id") == GROUP]
    assert not any(m.startswith(f"新诉求 {number}") for m in told)
    assert any(m.startswith(f"您的诉求 {number} 已办结，") for m in told)
    private = [d["message"] for d in fake.delivered if d.get("user_id") == OFFICER]
    assert any(m.startswith(f"新诉求 {number}") for m in private)
    assert all(d["auto_escape"] is True for d in fake.delivered)
    rows = await Delivery.filter(target=f"onebot-group:{GROUP}")
    assert rows and all(r.status == "sent" for r in rows)
