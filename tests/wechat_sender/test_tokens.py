"""WechatSender access tokens (cache, database, refresh) and TokenCache on its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.config import WechatConfig
from bot.senders.base import SendResult
from bot.senders.tokens import TokenCache
from bot.senders.wechat import WechatSender
from models.tokens import AccessToken
from tests.wechat_sender.tools import APPID, KEY, OPENID, SECRET, make_sender

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
