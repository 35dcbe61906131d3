"""WechatSender and TokenCache against the fake WeChat API over real loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.config import WechatConfig
from bot.db import close_db, init_db, upgrade
from bot.senders.base import SendResult
from bot.senders.tokens import TokenCache
from bot.senders.wechat import WechatSender
from models.tokens import AccessToken
from tests.fakes.wechat_api import FakeWechatAPI

APPID = "wx1234567890abcdef"
SECRET = "s3cret-do-not-log-0123456789abcd"
KEY = f"wechat:{APPID}"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture
async def sqlite_db(tmp_path):
    """The sender tests need a database but not a particular engine."""
    url = f"sqlite://{tmp_path}/t.db"
    await upgrade(url)
    await init_db(url)
    yield url
    await close_db()


@pytest.fixture
async def fake(aiohttp_server):
    return await FakeWechatAPI(APPID, SECRET).serve(aiohttp_server)


def make_sender(
    fake: FakeWechatAPI,
    session: aiohttp.ClientSession,
    tokens: TokenCache | None = None,
    *,
    secret: str = SECRET,
    api_base: str | None = None,
    **kwargs,
) -> WechatSender:
    config = WechatConfig(appid=APPID, secret=secret, api_base=api_base or fake.base_url)
    kwargs.setdefault("backoff_base", 0.01)
    return WechatSender(config, session, tokens or TokenCache(), **kwargs)


# -- success and request shape ----------------------------------------------


async def test_send_text_exact_request(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    text = "你好，欢迎来到连心社区！\n回复「活动」查看本周安排 🎉"

    result = await sender.send_text(OPENID, text)

    assert result == SendResult(ok=True, attempts=1)
    assert sender.platform == "wechat"
    [fetch] = fake.token_fetches
    assert fetch.json == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": False,
    }
    [send] = fake.sends
    assert send.method == "POST"
    assert send.path == "/cgi-bin/message/custom/send"
    assert send.query == {"access_token": "TOKEN-1"}
    assert send.json == {"touser": OPENID, "msgtype": "text", "text": {"content": text}}
    # UTF-8 on the wire, not \uXXXX escapes (WeChat would show those literally).
    assert "你好，欢迎来到连心社区".encode() in send.body
    assert b"\\u" not in send.body
    assert send.headers["Content-Type"].startswith("application/json")
    assert fake.delivered == [send.json]


async def test_send_template_request(sqlite_db, fake, session):
    sender = make_sender(fake, session)

    result = await sender.send_template(
        OPENID,
        "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        {"keyword1": "巧克力", "keyword2": {"value": "39.8元", "color": "#173177"}},
        url="http://weixin.qq.com/download",
    )

    assert result.ok and result.attempts == 1
    [send] = fake.sends
    assert send.path == "/cgi-bin/message/template/send"
    assert send.query == {"access_token": "TOKEN-1"}
    body = dict(send.json)
    client_msg_id = body.pop("client_msg_id")
    assert body == {
        "touser": OPENID,
        "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        "url": "http://weixin.qq.com/download",
        "data": {
            "keyword1": {"value": "巧克力"},
            "keyword2": {"value": "39.8元", "color": "#173177"},
        },
    }
    # Generated so that a retry after a timeout is deduplicated by WeChat.
    assert isinstance(client_msg_id, str) and len(client_msg_id) == 32
    assert "巧克力".encode() in send.body


async def test_template_retries_keep_client_msg_id(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(-1)

    result = await sender.send_template(OPENID, "TPL", {"k": "v"}, client_msg_id="MSG_000001")

    assert result.ok and result.attempts == 2
    assert [s.json["client_msg_id"] for s in fake.sends] == ["MSG_000001", "MSG_000001"]


async def test_template_to_non_follower_is_permanent(sqlite_db, fake, session):
    fake.subscribers = {"o-follower"}
    sender = make_sender(fake, session)

    result = await sender.send_template("o-stranger", "TPL", {"k": "v"})

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (43004, True, 1)
    assert len(fake.sends) == 1


# -- access token: cache, database, refresh --------------------------------


async def test_token_fetched_once_and_shared_through_db(sqlite_db, fake, session):
    first = make_sender(fake, session, TokenCache())
    assert (await first.send_text(OPENID, "一")).ok
    assert (await first.send_text(OPENID, "二")).ok

    row = await AccessToken.get(key=KEY)
    assert row.token == "TOKEN-1"
    assert row.expires_at > datetime.now(UTC) + timedelta(hours=1)

    # A second process: its own memory, same database.
    second = make_sender(fake, session, TokenCache())
    assert (await second.send_text(OPENID, "三")).ok

    assert len(fake.token_fetches) == 1
    assert [s.query["access_token"] for s in fake.sends] == ["TOKEN-1"] * 3


async def test_expired_token_refreshed_once_and_retried(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send_text(OPENID, "一")).ok
    fake.expire_tokens()

    result = await sender.send_text(OPENID, "二")

    assert result == SendResult(ok=True, attempts=2)
    assert [s.query["access_token"] for s in fake.sends] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]
    assert [f.json["force_refresh"] for f in fake.token_fetches] == [False, False]
    assert (await AccessToken.get(key=KEY)).token == "TOKEN-2"


async def test_refresh_by_other_process_is_read_from_db(sqlite_db, fake, session):
    a = make_sender(fake, session, TokenCache())
    b = make_sender(fake, session, TokenCache())
    assert (await a.send_text(OPENID, "a")).ok
    assert (await b.send_text(OPENID, "b")).ok
    fake.expire_tokens()

    assert (await a.send_text(OPENID, "a2")).attempts == 2  # fetches TOKEN-2
    result = await b.send_text(OPENID, "b2")  # rejected, finds TOKEN-2 in the DB

    assert result == SendResult(ok=True, attempts=2)
    assert len(fake.token_fetches) == 2
    assert fake.sends[-1].query["access_token"] == "TOKEN-2"


async def test_rejected_current_token_forces_refresh(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send_text(OPENID, "一")).ok
    # WeChat rejects TOKEN-1 although normal mode still hands it out.
    fake.fail_next(40001)

    result = await sender.send_text(OPENID, "二")

    assert result == SendResult(ok=True, attempts=2)
    assert [f.json["force_refresh"] for f in fake.token_fetches] == [False, False, True]
    assert fake.sends[-1].query["access_token"] == "TOKEN-2"


async def test_forced_refresh_at_most_once_per_30_seconds(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(40001)
    assert (await sender.send_text(OPENID, "一")).ok  # forces TOKEN-2
    fake.fail_next(40001, times=2)

    result = await sender.send_text(OPENID, "二")  # TOKEN-2 rejected again, right away

    assert (result.ok, result.code, result.attempts) == (False, 40001, 2)
    modes = [f.json["force_refresh"] for f in fake.token_fetches]
    assert modes == [False, False, True, False]  # no second forced refresh
    assert fake.current_token == "TOKEN-2"


async def test_rate_limited_sender_still_sends(sqlite_db, fake, session):
    fake_config = WechatConfig(
        appid=APPID, secret=SECRET, api_base=fake.base_url, rate_per_minute=600
    )
    sender = WechatSender(fake_config, session, TokenCache(), backoff_base=0.01)

    results = await asyncio.gather(*(sender.send_text(OPENID, str(i)) for i in range(5)))

    assert all(r.ok for r in results)


async def test_token_rejected_twice_is_not_refreshed_again(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send_text(OPENID, "一")).ok
    fake.expire_tokens()
    fake.fail_next(40001, times=2)

    result = await sender.send_text(OPENID, "二")

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (40001, False, 2)
    assert len(fake.token_fetches) == 2


async def test_100_concurrent_sends_fetch_token_once(sqlite_db, fake, session):
    sender = make_sender(fake, session)

    results = await asyncio.gather(*(sender.send_text(f"o-{i}", f"消息{i}") for i in range(100)))

    assert all(r == SendResult(ok=True, attempts=1) for r in results)
    assert len(fake.token_fetches) == 1
    assert len(fake.delivered) == 100


async def test_100_concurrent_token_rejections_refresh_once(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    assert (await sender.send_text(OPENID, "warm-up")).ok
    fake.revoke_tokens()  # every send below gets 40001 with TOKEN-1

    results = await asyncio.gather(*(sender.send_text(f"o-{i}", f"消息{i}") for i in range(100)))

    assert all(r == SendResult(ok=True, attempts=2) for r in results)
    assert len(fake.token_fetches) == 2  # the warm-up fetch and exactly one refresh
    retries = [s for s in fake.sends[1:] if s.query["access_token"] == "TOKEN-2"]
    assert len(retries) == 100
    assert len(fake.delivered) == 101


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


# -- TokenCache on its own ---------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def counting_fetch(tokens: list[str], expires_in: float = 7200):
    calls: list[int] = []

    async def fetch() -> tuple[str, float]:
        calls.append(1)
        await asyncio.sleep(0)
        return tokens[len(calls) - 1], expires_in

    return fetch, calls


async def test_cache_margin(db):
    clock = Clock()
    cache = TokenCache(margin_seconds=300, now=clock)
    fetch, calls = counting_fetch(["A", "B"])

    assert await cache.get("k", fetch) == "A"
    clock.now += timedelta(seconds=7200 - 301)
    assert await cache.get("k", fetch) == "A"
    clock.now += timedelta(seconds=2)  # inside the margin
    assert await cache.get("k", fetch) == "B"
    assert len(calls) == 2


async def test_cache_refresh_skips_fetch_when_already_replaced(db):
    cache = TokenCache()
    fetch, calls = counting_fetch(["A", "B", "C"])
    assert await cache.get("k", fetch) == "A"

    assert await cache.refresh("k", fetch, stale_token="A") == "B"
    # A caller that still held "A" gets "B" without another fetch.
    assert await cache.refresh("k", fetch, stale_token="A") == "B"
    assert len(calls) == 2


async def test_cache_failed_fetch_is_shared_by_waiters(db):
    cache = TokenCache()
    calls: list[int] = []

    async def failing() -> tuple[str, float]:
        calls.append(1)
        await asyncio.sleep(0.01)
        raise RuntimeError("platform says no")

    results = await asyncio.gather(
        *(cache.get("k", failing) for _ in range(20)), return_exceptions=True
    )

    assert all(isinstance(r, RuntimeError) for r in results)
    assert len(calls) == 1
    # A later caller tries again.
    fetch, _ = counting_fetch(["A"])
    assert await cache.get("k", fetch) == "A"


async def test_cache_store_survives_insert_race(db, monkeypatch):
    original_create = AccessToken.create

    async def racing_create(**kwargs):
        # Another process inserts the same key just before us.
        await original_create(key=kwargs["key"], token="OTHER", expires_at=kwargs["expires_at"])
        return await original_create(**kwargs)

    monkeypatch.setattr(AccessToken, "create", racing_create)
    cache = TokenCache()
    fetch, _ = counting_fetch(["MINE"])

    assert await cache.get("k", fetch) == "MINE"

    rows = await AccessToken.filter(key="k")
    assert [r.token for r in rows] == ["MINE"]


async def test_cache_works_per_key(db):
    cache = TokenCache()
    fetch_a, _ = counting_fetch(["A1"])
    fetch_b, _ = counting_fetch(["B1"])

    assert await cache.get("wechat:a", fetch_a) == "A1"
    assert await cache.get("wecom:b", fetch_b) == "B1"
    assert {r.key: r.token for r in await AccessToken.all()} == {"wechat:a": "A1", "wecom:b": "B1"}


async def test_fake_runs_without_pytest_aiohttp(sqlite_db, session):
    async with FakeWechatAPI(APPID, SECRET, subscribers={OPENID}) as api:
        assert api.base_url.startswith("http://127.0.0.1:")
        sender = make_sender(api, session)
        assert (await sender.send_text(OPENID, "hi")).ok
        assert (await sender.send_text("o-other", "hi")).code == 45015
    assert api.delivered == [{"touser": OPENID, "msgtype": "text", "text": {"content": "hi"}}]
