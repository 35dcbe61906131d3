"""WecomSender against the fake WeCom API over real loopback HTTP (on both databases:
the access token is shared through the access_token table)."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest

from bot.config import WecomConfig
from bot.inbound import Reply
from bot.outbound import Outbound
from bot.senders.base import SendResult
from bot.senders.tokens import TokenCache
from bot.senders.wecom import CAPABILITIES, MAX_TEXT_BYTES, WecomSender, build
from bot.targets import Target
from models.deliveries import Delivery
from models.tokens import AccessToken
from tests.fakes.wecom_api import FakeWecomAPI

CORP = "ww1436e0e65a779aee"
AGENT = 1000002
SECRET = "wecom-s3cret-do-not-log-0123456789abcdef"
KEY = f"wecom:{CORP}:{AGENT}"
ROBOT_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
USER = "ZhangSan"


@pytest.fixture
async def fake(aiohttp_server):
    api = FakeWecomAPI(CORP, SECRET, AGENT, chats={"CHAT001"}, robot_keys={ROBOT_KEY})
    return await api.serve(aiohttp_server)


def make_config(fake: FakeWecomAPI, **changes) -> WecomConfig:
    values = {
        "enabled": True,
        "corp_id": CORP,
        "agent_id": AGENT,
        "secret": SECRET,
        "token": "t",
        "encoding_aes_key": "a" * 43,
        "api_base": fake.base_url,
        "robot_keys": {"notices": ROBOT_KEY},
    }
    values.update(changes)
    return WecomConfig(**values)


def make_sender(
    fake: FakeWecomAPI,
    session: aiohttp.ClientSession,
    tokens: TokenCache | None = None,
    *,
    config: WecomConfig | None = None,
    **kwargs,
) -> WecomSender:
    kwargs.setdefault("backoff_base", 0.01)
    return WecomSender(config or make_config(fake), session, tokens or TokenCache(), **kwargs)


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


# -- platform errors ----------------------------------------------------------


async def test_invaliduser_is_a_permanent_failure(db, fake, session):
    sender = make_sender(fake, session)
    # errcode 0, but WeCom lists the recipient as invalid.
    fake.fail_next(0, "ok", invaliduser=USER)

    result = await sender.send_text(USER, "x")

    assert (result.ok, result.permanent, result.attempts) == (False, True, 1)
    assert USER in result.reason and "invaliduser" in result.reason
    assert len(fake.sends) == 1


async def test_other_invalid_users_do_not_fail_this_one(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(0, "ok", invaliduser="Someone|Other")
    assert (await sender.send_text(USER, "x")).ok


async def test_member_outside_visible_range_is_permanent(db, fake, session):
    fake.members = {"InRange"}
    sender = make_sender(fake, session)

    result = await sender.send_text("OutOfRange", "x")

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 81013, True, 1)
    assert "可见范围" in result.reason
    assert "hint" not in result.reason  # WeCom's hint/ip tail is dropped
    assert (await sender.send_text("InRange", "x")).ok


@pytest.mark.parametrize(
    ("target", "errcode", "setup"),
    [
        ("wecom-chat:NOPE", 86003, None),
        ("wecom-chat:THEIRS", 86008, "foreign"),
        ("wecom-robot:notices", 93000, "robot_removed"),
    ],
)
async def test_group_errors_are_permanent(db, fake, session, target, errcode, setup):
    if setup == "foreign":
        fake.foreign_chats = {"THEIRS"}
    if setup == "robot_removed":
        fake.robot_keys = set()
    sender = make_sender(fake, session)

    result = await sender.send(Target.parse(target), Reply("x"))

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, errcode, True, 1)
    assert result.reason


async def test_markdown_too_long_code_is_permanent(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(40058, "markdown.content exceed max length 4096", path=FakeWecomAPI.WEBHOOK_SEND)
    result = await sender.send_robot("notices", "x")
    assert (result.code, result.permanent, result.attempts) == (40058, True, 1)
    assert "4096" in result.reason


async def test_unknown_robot_name_is_a_clear_permanent_failure(db, fake, session):
    sender = make_sender(fake, session)

    result = await sender.send(Target.parse("wecom-robot:nobody"), Reply("x"))

    assert (result.ok, result.permanent, result.attempts) == (False, True, 0)
    assert "'nobody'" in result.reason and "wecom.robot_keys" in result.reason
    assert sender.refusal(Target.parse("wecom-robot:nobody")) == result.reason
    assert sender.refusal(Target.parse("wecom-robot:notices")) is None
    assert (await sender.send_robot("nobody", "x")).reason == result.reason
    assert fake.requests == []


async def test_unknown_errcode_keeps_platform_errmsg(db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(99999, "something new happened")

    result = await sender.send_text(USER, "x")

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, 99999, False, 1)
    assert "something new happened" in result.reason


@pytest.mark.parametrize("errcode", [-1, 45009, 45033])
async def test_transient_errcode_then_success(db, fake, session, errcode):
    sender = make_sender(fake, session)
    fake.fail_next(errcode)

    result = await sender.send_text(USER, "x")

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.sends) == 2 and len(fake.delivered) == 1


async def test_robot_5xx_then_success(db, fake, session):
    sender = make_sender(fake, session)
    fake.http_error_next(503, times=2, path=FakeWecomAPI.WEBHOOK_SEND)

    result = await sender.send_robot("notices", "x")

    assert result == SendResult(ok=True, attempts=3)


async def test_http_500_three_times_gives_up(db, fake, session):
    sender = make_sender(fake, session)
    fake.http_error_next(500, times=3)

    result = await sender.send_text(USER, "x")

    assert (result.ok, result.code, result.permanent, result.attempts) == (False, None, False, 3)
    assert "500" in result.reason
    assert fake.delivered == []


async def test_slow_answer_times_out_and_is_retried(db, fake, session):
    sender = make_sender(fake, session, timeout=0.2)
    assert (await sender.send_text(USER, "warm-up")).ok
    fake.delay_next(0.6)

    result = await sender.send_text(USER, "x")

    assert result == SendResult(ok=True, attempts=2)


# -- pacing -------------------------------------------------------------------


async def test_robot_limit_lets_n_through_and_holds_the_rest(db, fake, session):
    n, period = 5, 2.0
    sender = make_sender(fake, session, robot_burst=n, robot_period=period)
    started = time.monotonic()

    tasks = [asyncio.create_task(sender.send_robot("notices", f"第{i}条")) for i in range(n + 5)]
    await asyncio.sleep(0.25)
    # A leaky bucket of n per `period`: n at once, then one every period/n seconds.
    assert len(fake.delivered) == n
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=period + 1.5)
    elapsed = time.monotonic() - started

    assert all(r.ok for r in results)
    assert len(fake.delivered) == n + 5  # none lost
    assert sorted(b.json["text"]["content"] for b in fake.delivered) == sorted(
        f"第{i}条" for i in range(n + 5)
    )
    arrivals = sorted(r.at - started for r in fake.delivered)
    assert arrivals[n - 1] < 0.25
    assert arrivals[n] >= period / n * 0.8  # the first held one waited for the bucket
    assert elapsed < period + 1.0  # the rest within the next period


async def test_default_robot_pace_never_exceeds_20_a_minute(db, fake, session):
    # The default bucket (10, then one per 6 s) against a fake that enforces 20/minute.
    fake.robot_limit = 20
    sender = make_sender(fake, session)
    limiter = sender._robot_limiter(ROBOT_KEY)
    assert (limiter.max_rate, limiter.time_period) == (10, 60.0)
    results = await asyncio.gather(*(sender.send_robot("notices", str(i)) for i in range(10)))
    assert all(r.ok for r in results)


async def test_robots_are_paced_per_key(db, fake, session):
    fake.robot_keys = {ROBOT_KEY, "second-key"}
    config = make_config(fake, robot_keys={"notices": ROBOT_KEY, "team": "second-key"})
    sender = make_sender(fake, session, config=config, robot_burst=2, robot_period=30.0)

    results = await asyncio.wait_for(
        asyncio.gather(
            sender.send_robot("notices", "a"),
            sender.send_robot("notices", "b"),
            sender.send_robot("team", "c"),
            sender.send_robot("team", "d"),
        ),
        timeout=1.0,
    )
    assert all(r.ok for r in results)


async def test_platform_rate_limit_still_sends(db, fake, session):
    sender = make_sender(fake, session, config=make_config(fake, rate_per_minute=600))
    results = await asyncio.gather(*(sender.send_text(f"u{i}", str(i)) for i in range(5)))
    assert all(r.ok for r in results)
    assert sender._limiter is not None and sender._limiter.max_rate == 600


# -- through the outbound layer ---------------------------------------------


async def test_permanent_failure_recorded_as_delivery(db, fake, session):
    fake.members = {"InRange"}
    outbound = Outbound({"wecom": make_sender(fake, session)})

    row = await outbound.send("wecom:Gone", "通知", purpose="broadcast")

    assert (row.status, row.error_code, row.attempts) == ("failed", 81013, 1)
    stored = await Delivery.get(id=row.id)
    assert stored.status == "failed" and stored.error_code == 81013
    assert "可见范围" in stored.reason
    assert stored.platform == "wecom" and stored.finished_at is not None

    sent = await outbound.send("wecom:InRange", "通知")
    assert (sent.status, sent.attempts) == ("sent", 1)


async def test_outbound_group_targets(db, fake, session):
    outbound = Outbound({"wecom": make_sender(fake, session)}, group_pace_seconds=0.01)

    chat = await outbound.send("wecom-chat:CHAT001", "群通知")
    robot = await outbound.send("wecom-robot:notices", "机器人通知")
    missing = await outbound.send("wecom-chat:GONE", "x")
    unknown = await outbound.send("wecom-robot:nobody", "x")

    assert (chat.status, robot.status) == ("sent", "sent")
    assert (missing.status, missing.error_code) == ("failed", 86003)
    # Caught when scheduling: no request is made.
    assert unknown.status == "refused" and "wecom.robot_keys" in unknown.reason
    assert outbound.refusal("wecom-robot:nobody") == unknown.reason
    assert outbound.refusal("wecom-robot:notices") is None
    assert len(fake.sends) == 3


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
