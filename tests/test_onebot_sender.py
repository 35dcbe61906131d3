"""The OneBot sender against a fake OneBot HTTP API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.config import OnebotConfig
from bot.inbound import Reply
from bot.outbound import Outbound
from bot.senders.onebot import OnebotSender
from bot.targets import Target
from models.deliveries import Delivery
from tests.fakes.onebot_api import FakeOnebotAPI


@pytest.fixture
async def fake(aiohttp_server):
    return await FakeOnebotAPI(access_token="tok").serve(aiohttp_server)


def make(fake, session, **kw) -> OnebotSender:
    rate = kw.pop("rate_per_minute", 0)
    token = kw.pop("access_token", "tok")
    config = OnebotConfig(
        enabled=True, secret="s", access_token=token, api_url=fake.base_url, rate_per_minute=rate
    )
    return OnebotSender(config, session, backoff_base=0.01, **kw)


async def test_group_and_private_requests_as_onebot_expects(fake, session):
    sender = make(fake, session)
    ok = await sender.send(Target.parse("onebot-group:123456"), Reply("明天 [CQ:at,qq=all] 开会"))
    assert ok.ok and ok.attempts == 1
    ok = await sender.send_text("10001", "你好")
    assert ok.ok
    group, private = fake.requests[-2], fake.requests[-1]
    assert group.path == "/send_group_msg" and private.path == "/send_private_msg"
    assert group.headers["Authorization"] == "Bearer tok"
    assert group.params == {
        "group_id": 123456,
        "message": "明天 [CQ:at,qq=all] 开会",
        "auto_escape": True,
    }
    assert private.params == {"user_id": 10001, "message": "你好", "auto_escape": True}


async def test_one_text_to_many_targets_sends_the_same_bodies(fake, session):
    """`poster` encodes the text once; every body is still the action's JSON (quotes,
    backslashes, newlines, CQ codes and emoji escaped as json.dumps does)."""
    sender = make(fake, session)
    text = '第一行\n"引号" \\ [CQ:face,id=1] 🎉\t'
    post = sender.poster(Reply(text))
    targets = ["onebot-group:123456", "onebot:10001", "onebot-group:007", "onebot-group:12a"]
    results = [await post(Target.parse(t)) for t in targets]
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[3].permanent and "必须是数字" in results[3].reason
    bodies = [(r.path, r.body) for r in fake.requests]
    expected = [
        ("/send_group_msg", {"group_id": 123456, "message": text, "auto_escape": True}),
        ("/send_private_msg", {"user_id": 10001, "message": text, "auto_escape": True}),
        ("/send_group_msg", {"group_id": 7, "message": text, "auto_escape": True}),
    ]
    assert bodies == [(path, json.dumps(b, ensure_ascii=False).encode()) for path, b in expected]
    await sender.send(Target.parse("onebot-group:123456"), Reply(text))
    assert fake.requests[-1].body == fake.requests[0].body


async def test_wrong_token_is_permanent(fake, session):
    sender = make(fake, session, access_token="wrong")
    result = await sender.send_text("10001", "x")
    assert (result.ok, result.permanent, result.attempts) == (False, True, 1)
    assert "拒绝了 access_token" in result.reason


async def test_failed_status_recorded_with_retcode(fake, session, db):
    fake.fail_next(100, "GROUP_NOT_FOUND")
    outbound = Outbound({"onebot": make(fake, session)}, group_pace_seconds=0)
    row = await outbound.send("onebot-group:42", "通知")
    stored = await Delivery.get(id=row.id)
    assert (stored.status, stored.error_code, stored.attempts) == ("failed", 100, 1)
    assert "GROUP_NOT_FOUND" in stored.reason


async def test_5xx_retried_then_sent(fake, session):
    fake.http_error_next(502, times=2)
    result = await make(fake, session).send_text("10001", "x")
    assert (result.ok, result.attempts) == (True, 3)
    fake.http_error_next(500, times=3)
    result = await make(fake, session).send_text("10001", "x")
    assert (result.ok, result.attempts) == (False, 3)


async def test_slow_answer_times_out_and_retries(fake, session):
    fake.delay_next(1.0)
    result = await make(fake, session, timeout=0.2).send_text("10001", "x")
    assert (result.ok, result.attempts) == (True, 2)


async def test_rate_limit_sends_n_at_once_and_the_rest_later(fake, session):
    n = 5
    sender = make(fake, session, rate_per_minute=n, rate_period=1.0)
    started = time.monotonic()
    stamps: list[float] = []

    async def one(i: int) -> bool:
        result = await sender.send_text(str(20000 + i), f"m{i}")
        stamps.append(time.monotonic() - started)
        return result.ok

    results = await asyncio.gather(*[one(i) for i in range(n + 5)])
    assert all(results)
    assert sorted(p.params["user_id"] for p in fake.requests) == [20000 + i for i in range(n + 5)]
    stamps.sort()
    assert stamps[n - 1] < 0.5  # the first N at once
    assert stamps[n] >= 0.15  # the rest waited for the bucket to drain


async def test_group_pace_one_per_second_per_group(fake, session, db):
    outbound = Outbound({"onebot": make(fake, session)}, group_pace_seconds=0.3)
    started = time.monotonic()
    rows = await asyncio.gather(*[outbound.send("onebot-group:7", f"m{i}") for i in range(3)])
    assert [r.status for r in rows] == ["sent"] * 3
    assert time.monotonic() - started >= 0.5  # 3 messages to one group: paced
    # Another group is not held up by the first.
    started = time.monotonic()
    await asyncio.gather(outbound.send("onebot-group:8", "a"), outbound.send("onebot-group:9", "b"))
    assert time.monotonic() - started < 0.3


async def test_bad_ids_refused_without_calling(fake, session):
    result = await make(fake, session).send(Target.parse("onebot-group:abc"), Reply("x"))
    assert (result.ok, result.permanent) == (False, True)
    assert fake.requests == []
