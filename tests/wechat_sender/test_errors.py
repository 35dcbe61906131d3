"""WechatSender platform errors, retries, timeouts and unreachable APIs, and what it logs."""

from __future__ import annotations

import logging
import socket

import pytest

from bot.senders.base import SendResult
from models.tokens import AccessToken
from tests.fakes.wechat_api import FakeWechatAPI
from tests.wechat_sender.tools import KEY, OPENID, SECRET, make_sender

# -- platform errors ---------------------------------------------------------


async def test_45015_is_permanent_and_not_retried(sqlite_db, fake, session):
    fake.subscribers = {"o-still-here"}
    sender = make_sender(fake, session)

    result = await sender.send_text("o-gone", "还在吗？")

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (45015, True, 1)
    assert "48 小时" in result.reason
    assert len(fake.sends) == 1


@pytest.mark.parametrize(
    ("errcode", "permanent"),
    [(43004, True), (40003, True), (45047, False), (47001, True)],
)
async def test_non_retryable_errors(sqlite_db, fake, session, errcode, permanent):
    sender = make_sender(fake, session)
    fake.fail_next(errcode)

    result = await sender.send_text(OPENID, "x")

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (errcode, permanent, 1)
    assert result.reason
    assert len(fake.sends) == 1


@pytest.mark.parametrize("errcode", [-1, 45009])
async def test_transient_errcode_then_success(sqlite_db, fake, session, errcode):
    sender = make_sender(fake, session)
    fake.fail_next(errcode)

    result = await sender.send_text(OPENID, "x")

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.sends) == 2
    assert len(fake.delivered) == 1


async def test_http_500_three_times_gives_up(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    fake.http_error_next(500, times=3)

    result = await sender.send_text(OPENID, "x")

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (None, False, 3)
    assert "500" in result.reason
    assert len(fake.sends) == 3
    assert fake.delivered == []


async def test_max_attempts_is_configurable(sqlite_db, fake, session):
    sender = make_sender(fake, session, max_attempts=5)
    fake.fail_next(-1, times=4)

    result = await sender.send_text(OPENID, "x")

    assert result == SendResult(ok=True, attempts=5)


async def test_slow_answer_times_out_and_is_retried(sqlite_db, fake, session):
    sender = make_sender(fake, session, timeout=0.2)
    assert (await sender.send_text(OPENID, "warm-up")).ok
    fake.delay_next(0.6)

    result = await sender.send_text(OPENID, "x")

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.sends) == 3


async def test_wrong_secret_is_a_result_not_an_exception(sqlite_db, fake, session):
    sender = make_sender(fake, session, secret="wrong-secret")

    result = await sender.send_text(OPENID, "x")

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (40125, False, 1)
    assert "AppSecret" in result.reason
    assert fake.sends == []
    assert await AccessToken.get_or_none(key=KEY) is None


async def test_token_endpoint_5xx_is_retried(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    fake.http_error_next(502, path=FakeWechatAPI.TOKEN_PATH)

    result = await sender.send_text(OPENID, "x")

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.token_fetches) == 2


async def test_unreachable_api_gives_up(sqlite_db, fake, session):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    sender = make_sender(fake, session, api_base=f"http://127.0.0.1:{port}")

    result = await sender.send_text(OPENID, "x")

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (None, False, 3)
    assert "access_token" in result.reason


async def test_logs_carry_no_secret_and_no_token(sqlite_db, fake, session, caplog):
    caplog.set_level(logging.DEBUG)
    sender = make_sender(fake, session)
    assert (await sender.send_text(OPENID, "一")).ok
    fake.expire_tokens()
    assert (await sender.send_text(OPENID, "二")).ok
    fake.fail_next(40001)
    assert (await sender.send_text(OPENID, "三")).ok
    fake.http_error_next(500, times=3)
    assert not (await sender.send_text(OPENID, "四")).ok
    await make_sender(fake, session, secret="wrong").send_text(OPENID, "五")

    ours = [r for r in caplog.records if r.name.startswith("lianxin")]
    assert ours  # the checks below are not vacuous
    text = "\n".join(r.getMessage() for r in ours)
    assert KEY in text
    assert SECRET not in text
    assert "TOKEN-" not in text
