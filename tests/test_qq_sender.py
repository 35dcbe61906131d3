"""QQSender (passive replies only) against the fake QQ OpenAPI over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.config import QQConfig
from bot.outbound import Outbound
from bot.senders.base import SendResult
from bot.senders.qq import CAPABILITIES, QQSender, build
from bot.senders.tokens import TokenCache
from bot.targets import Target
from models.deliveries import Delivery
from models.tokens import AccessToken
from tests.fakes.qq_api import FakeQQAPI

SAMPLES = Path(__file__).parent / "samples"  # copies of shared/platform-samples
APPID = "102345678"
SECRET = "qq-secret-do-not-log-0123456789"
KEY = f"qq:{APPID}"
GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
USER = "E4F4AEA33253A2797FB897C50B81D7ED"
MSG = "ROBOT1.0_eBIyWnxpmSu6uLQ7u7fU0eGloKGYg4eEa737vRyKnMCgyZjKi7JLYkQ9B0VapbiY"


@pytest.fixture
async def fake(aiohttp_server):
    return await FakeQQAPI(APPID, SECRET).serve(aiohttp_server)


def qq_config(fake: FakeQQAPI, **overrides) -> QQConfig:
    values = {
        "enabled": True,
        "appid": APPID,
        "secret": SECRET,
        "api_base": fake.base_url,
        "token_url": fake.token_url,
    }
    values.update(overrides)
    return QQConfig(**values)


def make_sender(
    fake: FakeQQAPI,
    session: aiohttp.ClientSession,
    tokens: TokenCache | None = None,
    *,
    config: QQConfig | None = None,
    **kwargs,
) -> QQSender:
    kwargs.setdefault("backoff_base", 0.01)
    return QQSender(config or qq_config(fake), session, tokens or TokenCache(), **kwargs)


def group(gid: str = GROUP) -> Target:
    return Target.group("qq", gid)


# -- request shape -------------------------------------------------------------


async def test_group_and_c2c_replies_match_the_published_requests(db, fake, session):
    vector = json.loads((SAMPLES / "qq_reply_requests.json").read_text("utf-8"))
    sender = make_sender(fake, session)

    first = await sender.reply(group(), "收到", MSG, 1)
    second = await sender.reply(f"qq-group:{GROUP}", "第二条", MSG, 2)
    c2c_id = vector["c2c_reply"]["body"]["msg_id"]
    third = await sender.reply(Target.user("qq", USER), "收到", c2c_id)

    assert [first, second, third] == [SendResult(ok=True, attempts=1)] * 3
    [fetch] = fake.token_fetches
    assert fetch.json == {"appId": APPID, "clientSecret": SECRET}
    sends = fake.sends
    for rec, name in zip(sends, ["group_reply", "group_reply_second", "c2c_reply"], strict=True):
        assert (rec.method, rec.path) == (vector[name]["method"], vector[name]["path"])
        assert rec.json == vector[name]["body"]
        assert rec.headers["Authorization"] == "QQBot QQTOKEN-1"
        assert rec.headers["Content-Type"].startswith("application/json")
    # UTF-8 on the wire, not \uXXXX escapes.
    assert "收到".encode() in sends[0].body and b"\\u" not in sends[0].body
    assert [d["kind"] for d in fake.delivered] == ["group", "group", "user"]


async def test_expires_in_string_sets_the_token_lifetime(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.reply(group(), "一", MSG)).ok

    row = await AccessToken.get(key=KEY)
    assert row.token == "QQTOKEN-1"
    left = row.expires_at - datetime.now(UTC)
    assert timedelta(seconds=7100) < left <= timedelta(seconds=7200)


# -- access token --------------------------------------------------------------


async def test_100_concurrent_sends_fetch_the_token_once(db, fake, session):
    sender = make_sender(fake, session)

    results = await asyncio.gather(
        *(sender.reply(group(f"G{i}"), f"消息{i}", f"MSG-{i}") for i in range(100))
    )

    assert all(r == SendResult(ok=True, attempts=1) for r in results)
    assert len(fake.token_fetches) == 1
    assert len(fake.delivered) == 100


async def test_token_shared_with_another_process_through_the_database(db, fake, session):
    assert (await make_sender(fake, session, TokenCache()).reply(group(), "一", MSG, 1)).ok
    assert (await make_sender(fake, session, TokenCache()).reply(group(), "二", MSG, 2)).ok

    assert len(fake.token_fetches) == 1


async def test_expired_token_is_refreshed_once_and_retried(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.reply(group(), "一", MSG, 1)).ok
    fake.expire_tokens()

    result = await sender.reply(group(), "二", MSG, 2)

    assert result == SendResult(ok=True, attempts=2)
    assert [s.headers["Authorization"] for s in fake.sends] == [
        "QQBot QQTOKEN-1",
        "QQBot QQTOKEN-1",
        "QQBot QQTOKEN-2",
    ]
    assert len(fake.token_fetches) == 2
    assert (await AccessToken.get(key=KEY)).token == "QQTOKEN-2"


async def test_100_concurrent_rejections_refresh_once(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.reply(group(), "warm-up", "MSG-warm")).ok
    fake.expire_tokens()

    results = await asyncio.gather(
        *(sender.reply(group(f"G{i}"), f"消息{i}", f"MSG-{i}") for i in range(100))
    )

    assert all(r == SendResult(ok=True, attempts=2) for r in results)
    assert len(fake.token_fetches) == 2
    assert len(fake.delivered) == 101


async def test_token_refreshed_before_it_expires(db, aiohttp_server, session):
    """Near the end of a token's life the platform issues a new one; the cache asks in time."""

    class Clock:
        now = datetime(2025, 1, 1, tzinfo=UTC)

        def __call__(self) -> datetime:
            return self.now

    # token_ttl inside the platform's 60 s window
    api = await FakeQQAPI(APPID, SECRET, token_ttl=50).serve(aiohttp_server)
    clock = Clock()
    sender = make_sender(api, session, TokenCache(margin_seconds=300, now=clock))

    assert (await sender.reply(group(), "一", MSG, 1)).ok
    clock.now += timedelta(seconds=10)
    assert (await sender.reply(group(), "二", MSG, 2)).ok  # still fresh
    clock.now += timedelta(seconds=20)  # past half its life: fetched again
    assert (await sender.reply(group(), "三", MSG, 3)).ok

    assert len(api.token_fetches) == 2
    assert [s.headers["Authorization"] for s in api.sends] == [
        "QQBot QQTOKEN-1",
        "QQBot QQTOKEN-1",
        "QQBot QQTOKEN-2",
    ]


async def test_token_rejected_twice_is_not_refreshed_again(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(11244, status=401, times=2)

    result = await sender.reply(group(), "x", MSG)

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 11244, False, 2)
    assert len(fake.token_fetches) == 2


async def test_http_401_without_a_code_counts_as_token_rejected(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(0, "unauthorized", status=401)

    result = await sender.reply(group(), "x", MSG)

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.token_fetches) == 2


async def test_wrong_secret_is_a_result_not_an_exception(db, fake, session):
    sender = make_sender(fake, session, config=qq_config(fake, secret="wrong"))

    result = await sender.reply(group(), "x", MSG)

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (None, False, 1)
    assert "access_token" in result.reason and "401" in result.reason
    assert fake.sends == []
    assert await AccessToken.get_or_none(key=KEY) is None


async def test_token_endpoint_5xx_is_retried(db, fake, session):
    sender = make_sender(fake, session)
    fake.http_error_next(502, path=FakeQQAPI.TOKEN_PATH)

    result = await sender.reply(group(), "x", MSG)

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.token_fetches) == 2


# -- platform errors -------------------------------------------------------------


async def test_rate_limit_22009_then_success(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(22009)

    result = await sender.reply(group(), "x", MSG)

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.sends) == 2
    assert len(fake.delivered) == 1


async def test_rate_limit_gives_up_after_three_attempts(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(22009, times=3)

    result = await sender.reply(group(), "x", MSG)

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 22009, False, 3)
    assert "超频" in result.reason and "msg limit exceed" in result.reason
    assert fake.delivered == []


async def test_http_500_then_success_and_three_500s_give_up(db, fake, session):
    sender = make_sender(fake, session)
    fake.http_error_next(500)
    assert await sender.reply(group(), "一", MSG, 1) == SendResult(ok=True, attempts=2)

    fake.http_error_next(503, times=3)
    result = await sender.reply(group(), "二", MSG, 2)

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, None, False, 3)
    assert "503" in result.reason


async def test_timeout_is_retried(db, fake, session):
    sender = make_sender(fake, session, timeout=0.2)
    assert (await sender.reply(group(), "warm-up", "MSG-0")).ok
    fake.delay_next(0.6)  # nothing happens before the caller gives up

    result = await sender.reply(group(), "x", MSG)

    assert result == SendResult(ok=True, attempts=2)
    assert [d["content"] for d in fake.delivered] == ["warm-up", "x"]


async def test_timed_out_send_that_arrived_is_not_sent_twice(db, fake, session):
    sender = make_sender(fake, session, timeout=0.2)
    assert (await sender.reply(group(), "warm-up", "MSG-0")).ok
    fake.slow_answer_next(0.6)  # delivered at once, answered too late

    result = await sender.reply(group(), "x", MSG)

    # The retry repeats msg_id + msg_seq; the platform refuses it as a duplicate,
    # which shows the timed-out attempt arrived.
    assert result == SendResult(ok=True, attempts=2)
    assert [d["content"] for d in fake.delivered] == ["warm-up", "x"]
    assert [s.json["msg_seq"] for s in fake.sends[1:]] == [1, 1]


async def test_permanent_failure_carries_code_and_message(db, fake, session):
    sender = make_sender(fake, session)
    fake.expired_msg_ids.add(MSG)

    result = await sender.reply(group(), "x", MSG)

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 304027, True, 1)
    assert "过期" in result.reason and "msg expired" in result.reason
    assert len(fake.sends) == 1


async def test_repeated_msg_seq_is_a_permanent_failure(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.reply(group(), "一", MSG, 1)).ok

    result = await sender.reply(group(), "又一", MSG, 1)

    assert (result.ok, result.code, result.permanent, result.attempts) == (
        False,
        40054005,
        True,
        1,
    )


async def test_unknown_code_is_failed_not_retried(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(99999, "something new")

    result = await sender.reply(group(), "x", MSG)

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 99999, False, 1)
    assert "something new" in result.reason


async def test_retry_once_codes_are_retried_only_once(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(11242, times=2)

    result = await sender.reply(group(), "x", MSG)

    assert (result.ok, result.code, result.attempts) == (False, 11242, 2)


async def test_fake_limits_replies_per_message_to_five(db, fake, session):
    sender = make_sender(fake, session)
    for seq in range(1, 6):
        assert (await sender.reply(group(), f"第{seq}条", MSG, seq)).ok

    result = await sender.reply(group(), "第6条", MSG, 6)

    assert (result.ok, result.code, result.attempts) == (False, 22009, 3)
    assert len(fake.delivered) == 5


async def test_rate_limited_sender_still_sends(db, fake, session):
    sender = make_sender(fake, session, config=qq_config(fake, rate_per_minute=600))

    results = await asyncio.gather(*(sender.reply(group(), str(i), MSG, i) for i in range(1, 6)))

    assert all(r.ok for r in results)


# -- no active push --------------------------------------------------------------


async def test_push_is_refused_up_front(db, fake, session):
    sender = make_sender(fake, session)
    outbound = Outbound({"qq": sender})

    for target in ("qq-group:x", "qq:o1"):
        reason = outbound.refusal(target)
        assert isinstance(reason, str) and reason.startswith("qq:")
    row = await outbound.send("qq-group:x", "通知")
    assert (row.status, row.attempts) == ("refused", 0)
    assert (await Delivery.get(id=row.id)).reason == outbound.refusal("qq-group:x")

    assert (CAPABILITIES.reply, CAPABILITIES.push_user, CAPABILITIES.push_group) == (
        True,
        False,
        False,
    )
    assert "5 分钟" in CAPABILITIES.note and "60 分钟" in CAPABILITIES.note
    no_msg = await sender.reply(group(), "x", "")
    text = await sender.send_text("o1", "x")
    assert no_msg.permanent and text.permanent and not no_msg.ok and not text.ok
    assert fake.requests == []


async def test_build_needs_appid_and_secret(fake, session):
    tokens = TokenCache()
    assert build(qq_config(fake, secret=""), session, tokens) is None
    sender = build(qq_config(fake), session, tokens)
    assert isinstance(sender, QQSender) and sender.capabilities is CAPABILITIES


async def test_logs_carry_no_secret_and_no_token(db, fake, session, caplog):
    caplog.set_level(logging.DEBUG)
    sender = make_sender(fake, session)
    assert (await sender.reply(group(), "一", MSG, 1)).ok
    fake.expire_tokens()
    assert (await sender.reply(group(), "二", MSG, 2)).ok
    fake.http_error_next(500, times=3)
    assert not (await sender.reply(group(), "三", MSG, 3)).ok
    await make_sender(fake, session, config=qq_config(fake, secret="wrong")).reply(
        group(), "四", MSG, 4
    )

    ours = [r for r in caplog.records if r.name.startswith("lianxin")]
    assert ours
    text = "\n".join(r.getMessage() for r in ours)
    assert KEY in text
    assert SECRET not in text
    assert "QQTOKEN-" not in text


async def test_fake_runs_without_pytest_aiohttp(db, session):
    async with FakeQQAPI(APPID, SECRET) as api:
        assert api.base_url.startswith("http://127.0.0.1:")
        sender = make_sender(api, session)
        assert (await sender.reply(Target.user("qq", USER), "hi", MSG)).ok
    assert api.delivered == [
        {
            "content": "hi",
            "msg_type": 0,
            "msg_id": MSG,
            "msg_seq": 1,
            "kind": "user",
            "target": USER,
        }
    ]
