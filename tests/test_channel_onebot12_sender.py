"""The OneBot 12 sender (send_message) against a fake v12 implementation on 127.0.0.1:
requests as the standard shapes them, and each retcode's outcome on the Delivery row."""

from __future__ import annotations

import pytest

from bot.config import Onebot12Config
from bot.outbound import Outbound
from bot.senders.onebot12 import Onebot12Sender
from bot.targets import Target
from models.deliveries import Delivery
from tests.fakes.onebot12_api import FakeOnebot12

GROUP = "onebot12-group:wechat:20001234567@chatroom"


@pytest.fixture
async def fake(aiohttp_server):
    return await FakeOnebot12("tok").serve(aiohttp_server)


def make(fake, session, token: str = "tok") -> Onebot12Sender:
    config = Onebot12Config(enabled=True, api_url=fake.base_url + "/", api_access_token=token)
    return Onebot12Sender(config, session, backoff_base=0.01)


async def test_group_and_private_send_message(fake, session):
    sender = make(fake, session)
    assert (await sender.send_message(Target.parse(GROUP), "明天开会")).ok
    assert (await sender.send_text("wechat:wxid_alice", "你好")).ok
    group, private = (r.json for r in fake.requests)
    assert group["action"] == "send_message" and group["echo"]
    assert group["params"] == {
        "detail_type": "group",
        "group_id": "20001234567@chatroom",
        "message": [{"type": "text", "data": {"text": "明天开会"}}],
    }
    assert private["params"]["detail_type"] == "private"
    assert private["params"]["user_id"] == "wxid_alice"
    assert "self" not in group  # no bot account seen yet: one-bot implementations need none
    assert fake.requests[0].headers["Authorization"] == "Bearer tok"


async def test_mention_falls_back_to_plain_text_when_unsupported(aiohttp_server, session):
    fake = await FakeOnebot12("tok", segments=frozenset({"text"})).serve(aiohttp_server)
    result = await make(fake, session).send_message(Target.parse(GROUP), "收到", mention="wxid_a")
    assert result.ok
    assert [r.json["params"]["message"][0]["type"] for r in fake.requests] == ["mention", "text"]
    assert fake.delivered[0]["text"] == "收到"


async def test_wrong_api_token_is_permanent(fake, session):
    result = await make(fake, session, token="wrong").send_text("wechat:wxid_a", "x")
    assert (result.ok, result.permanent, result.attempts) == (False, True, 1)
    assert "access_token" in result.reason


@pytest.mark.parametrize(
    ("retcode", "attempts", "words"),
    [
        (10002, 1, "不支持 send_message"),
        (10003, 1, "参数无效"),
        (10102, 1, "不认识这个机器人账号"),
        (34001, 1, "平台拒绝发送"),
        (35003, 1, "目标不存在或不可达"),
        (60001, 1, "实现自定义错误"),
        (33001, 3, "网络出错"),
        (20002, 3, "内部出错"),
    ],
)
async def test_retcodes_recorded_on_the_delivery(fake, session, db, retcode, attempts, words):
    fake.fail_next(retcode, "群不存在", times=3)
    outbound = Outbound({"onebot12": make(fake, session)}, group_pace_seconds=0)
    row = await outbound.send(GROUP, "通知", purpose="broadcast")
    stored = await Delivery.get(id=row.id)
    assert (stored.status, stored.error_code, stored.attempts) == ("failed", retcode, attempts)
    assert words in stored.reason and "群不存在" in stored.reason
    assert len(fake.requests) == attempts


async def test_5xx_retried_then_sent(fake, session):
    fake.http_error_next(502, times=2)
    result = await make(fake, session).send_text("wechat:wxid_a", "x")
    assert (result.ok, result.attempts) == (True, 3)


async def test_bad_target_refused_before_sending(fake, session, db):
    outbound = Outbound({"onebot12": make(fake, session)}, group_pace_seconds=0)
    row = await outbound.send("onebot12:wxid_without_platform", "x")
    assert (row.status, row.attempts) == ("refused", 0)
    assert "onebot12:平台:ID" in row.reason
    assert fake.requests == []
