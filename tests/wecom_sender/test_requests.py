"""WecomSender request shapes, access token (shared via the access_token table), build, logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.config import WecomConfig
from bot.inbound import Reply
from bot.senders.base import SendResult
from bot.senders.tokens import TokenCache
from bot.senders.wecom import CAPABILITIES, MAX_TEXT_BYTES, WecomSender, build
from bot.targets import Target
from models.tokens import AccessToken
from tests.fakes.wecom_api import FakeWecomAPI
from tests.wecom_sender.tools import (
    AGENT,
    CORP,
    KEY,
    ROBOT_KEY,
    SECRET,
    USER,
    make_config,
    make_sender,
)

# -- request shapes ---------------------------------------------------------


async def test_app_message_exact_request(db, fake, session):
    sender = make_sender(fake, session)
    text = "您好，本周六上午9点在社区党群服务中心开展志愿活动 🎉"

    result = await sender.send_text(USER, text)

    assert result == SendResult(ok=True, attempts=1)
    [fetch] = fake.token_fetches
    assert fetch.method == "GET"
    assert fetch.query == {"corpid": CORP, "corpsecret": SECRET}
    [send] = fake.sends
    assert (send.method, send.path) == ("POST", "/cgi-bin/message/send")
    assert send.query == {"access_token": "WTOKEN-1"}
    assert send.json == {
        "touser": USER,
        "msgtype": "text",
        "agentid": AGENT,
        "text": {"content": text},
    }
    assert "志愿活动".encode() in send.body and b"\\u" not in send.body
    assert send.headers["Content-Type"].startswith("application/json")
    assert (await AccessToken.get(key=KEY)).token == "WTOKEN-1"


async def test_appchat_exact_request(db, fake, session):
    sender = make_sender(fake, session)

    result = await sender.send(Target.parse("wecom-chat:CHAT001"), Reply("今晚8点开会"))

    assert result.ok
    [send] = fake.sends
    assert send.path == "/cgi-bin/appchat/send"
    assert send.query == {"access_token": "WTOKEN-1"}
    assert send.json == {
        "chatid": "CHAT001",
        "msgtype": "text",
        "text": {"content": "今晚8点开会"},
        "safe": 0,
    }


async def test_robot_exact_request(db, fake, session):
    sender = make_sender(fake, session)

    result = await sender.send(Target.parse("wecom-robot:notices"), Reply("通知：明天停水"))

    assert result == SendResult(ok=True, attempts=1)
    [send] = fake.sends
    assert send.path == "/cgi-bin/webhook/send"
    assert send.query == {"key": ROBOT_KEY}  # the key in the query, no access token
    assert send.json == {"msgtype": "text", "text": {"content": "通知：明天停水"}}
    assert fake.token_fetches == []


async def test_user_target_goes_to_app_message(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send(Target.parse(f"wecom:{USER}"), Reply("hi"))).ok
    assert fake.delivered_to(FakeWecomAPI.MESSAGE_SEND)[0]["touser"] == USER


async def test_long_text_goes_out_in_parts(db, fake, session):
    sender = make_sender(fake, session)
    text = "\n".join(f"第{i}条：" + "社区服务" * 20 for i in range(40))
    assert len(text.encode()) > 2 * MAX_TEXT_BYTES

    result = await sender.send_text(USER, text)

    assert result.ok and result.attempts >= 3
    parts = [b["text"]["content"] for b in fake.delivered_to(FakeWecomAPI.MESSAGE_SEND)]
    assert len(parts) == result.attempts
    assert all(len(p.encode()) <= MAX_TEXT_BYTES for p in parts)
    assert "\n".join(parts) == text


# -- access token -------------------------------------------------------------


async def test_token_fetched_once_for_100_concurrent_sends(db, fake, session):
    sender = make_sender(fake, session)

    results = await asyncio.gather(*(sender.send_text(f"u{i}", f"消息{i}") for i in range(100)))

    assert all(r == SendResult(ok=True, attempts=1) for r in results)
    assert len(fake.token_fetches) == 1
    assert len(fake.delivered) == 100
    # Another process with its own memory finds the token in the database.
    other = make_sender(fake, session, TokenCache())
    assert (await other.send_text(USER, "再一条")).ok
    assert len(fake.token_fetches) == 1


async def test_expired_token_refreshed_once(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send_text(USER, "一")).ok
    fake.expire_tokens()

    result = await sender.send_text(USER, "二")

    assert result == SendResult(ok=True, attempts=2)
    assert [s.query["access_token"] for s in fake.sends] == ["WTOKEN-1", "WTOKEN-1", "WTOKEN-2"]
    assert len(fake.token_fetches) == 2
    assert (await AccessToken.get(key=KEY)).token == "WTOKEN-2"


async def test_100_concurrent_sends_with_expired_token_refresh_once(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send_text(USER, "warm-up")).ok
    fake.expire_tokens()  # every send below gets 42001 with WTOKEN-1

    results = await asyncio.gather(*(sender.send_text(f"u{i}", f"消息{i}") for i in range(100)))

    assert all(r == SendResult(ok=True, attempts=2) for r in results)
    assert len(fake.token_fetches) == 2  # the warm-up fetch and exactly one refresh
    assert len(fake.delivered) == 101


@pytest.mark.parametrize("errcode", [40001, 40014])
async def test_rejected_token_refreshed(db, fake, session, errcode):
    sender = make_sender(fake, session)
    assert (await sender.send_text(USER, "一")).ok
    fake.invalidate_tokens()
    fake.fail_next(errcode)  # the platform's own word for the rejection

    result = await sender.send_text(USER, "二")

    assert result == SendResult(ok=True, attempts=2)
    assert fake.sends[-1].query["access_token"] == "WTOKEN-2"


async def test_token_rejected_twice_is_not_refreshed_again(db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send_text(USER, "一")).ok
    fake.fail_next(42001, times=3)

    result = await sender.send_text(USER, "二")

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 42001, False, 2)
    assert len(fake.token_fetches) == 2  # one refresh, no second one
    # WeCom hands the still-valid token out again.
    assert [s.query["access_token"] for s in fake.sends] == ["WTOKEN-1"] * 3


async def test_wrong_secret_is_a_result_not_an_exception(db, fake, session):
    sender = make_sender(fake, session, config=make_config(fake, secret="wrong"))

    result = await sender.send_text(USER, "x")

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 40001, False, 1)
    assert "Secret" in result.reason
    assert fake.sends == []
    assert await AccessToken.get_or_none(key=KEY) is None


async def test_token_endpoint_5xx_is_retried(db, fake, session):
    sender = make_sender(fake, session)
    fake.http_error_next(502, path=FakeWecomAPI.TOKEN_PATH)

    result = await sender.send_text(USER, "x")

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.token_fetches) == 2


# -- build, capabilities, logs -----------------------------------------------


async def test_build_and_capabilities(fake, session):
    assert CAPABILITIES.reply and CAPABILITIES.push_user and CAPABILITIES.push_group
    assert "20" in CAPABILITIES.note and "30" in CAPABILITIES.note
    tokens = TokenCache()
    assert build(WecomConfig(), session, tokens) is None
    robots_only = build(WecomConfig(robot_keys={"n": "k"}), session, tokens)
    assert isinstance(robots_only, WecomSender)
    assert robots_only.refusal(Target.parse("wecom:someone")) is not None
    assert robots_only.refusal(Target.parse("wecom-robot:n")) is None
    no_app = await robots_only.send_text("someone", "x")
    assert (no_app.ok, no_app.permanent, no_app.attempts) == (False, True, 0)
    full = build(make_config(fake), session, tokens)
    assert isinstance(full, WecomSender) and full.token_key == KEY
    assert full.refusal(Target.parse("wecom-chat:C1")) is None


async def test_logs_carry_no_secret_token_or_robot_key(db, fake, session, caplog):
    caplog.set_level(logging.DEBUG)
    sender = make_sender(fake, session)
    assert (await sender.send_text(USER, "一")).ok
    fake.expire_tokens()
    assert (await sender.send_text(USER, "二")).ok
    fake.http_error_next(500, times=3)
    assert not (await sender.send_text(USER, "三")).ok
    fake.http_error_next(500, times=3, path=FakeWecomAPI.WEBHOOK_SEND)
    assert not (await sender.send_robot("notices", "四")).ok
    await make_sender(fake, session, config=make_config(fake, secret="wrong")).send_text(USER, "五")

    ours = [r for r in caplog.records if r.name.startswith("lianxin")]
    assert ours
    text = "\n".join(r.getMessage() for r in ours)
    assert KEY in text and "'notices'" in text
    assert SECRET not in text
    assert "WTOKEN-" not in text
    assert ROBOT_KEY not in text


async def test_fake_runs_without_pytest_aiohttp(db, session):
    async with FakeWecomAPI(CORP, SECRET, AGENT, members={USER}) as api:
        assert api.base_url.startswith("http://127.0.0.1:")
        sender = make_sender(api, session)
        assert (await sender.send_text(USER, "hi")).ok
        assert (await sender.send_text("other", "hi")).code == 81013
    assert api.delivered_to(FakeWecomAPI.MESSAGE_SEND) == [
        {"touser": USER, "msgtype": "text", "agentid": AGENT, "text": {"content": "hi"}}
    ]
