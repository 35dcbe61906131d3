"""Retried deliveries never act twice — across batches, concurrency and restarts."""

from __future__ import annotations

import asyncio

from bot.app import create_app
from bot.dedup import DedupGate
from models.events import DialogState, InboundEvent
from tests.conftest import Console, make_config


async def test_batched_claim_first_wins_across_gates(db):
    first, second = DedupGate(), DedupGate()  # two processes, or before/after a restart
    assert await first.claim_batched("wechat", "k1") is True
    assert await second.claim_batched("wechat", "k1") is False
    assert await first.claim_batched("onebot", "k1") is True  # keys are per platform
    await first.close()
    await second.close()


async def test_concurrent_duplicates_in_one_batch(db):
    gate = DedupGate(flush_interval=0.05)
    results = await asyncio.gather(*[gate.claim_batched("wechat", "same") for _ in range(20)])
    assert results.count(True) == 1
    others = await asyncio.gather(*[gate.claim_batched("wechat", f"k{i}") for i in range(300)])
    assert all(others)
    assert await InboundEvent.filter(platform="wechat").count() == 301
    await gate.close()


async def test_mutating_retry_after_restart_acts_once(aiohttp_client, db_url):
    config = make_config(db_url)
    first = Console(await aiohttp_client(create_app(config)))
    reply = await first.say("/改称呼", user="u1", event_id="evt-1")
    assert "怎么称呼您" in reply[0]
    await first.client.close()

    # A new process: empty memory, same database.
    second = Console(await aiohttp_client(create_app(config)))
    assert await second.say("/改称呼", user="u1", event_id="evt-1") == reply
    answer = await second.say("小周", user="u1", event_id="evt-2")
    assert answer == ["好的，以后就称呼您“小周”。"]
    await second.client.close()

    third = Console(await aiohttp_client(create_app(config)))
    # The retried answer does not start anything again, and gets its first reply.
    assert await third.say("小周", user="u1", event_id="evt-2") == answer
    assert await third.say("/改称呼", user="u1", event_id="evt-1") == reply
    assert await DialogState.all().count() == 0
    assert await InboundEvent.filter(event_key__in=["evt-1", "evt-2"]).count() == 2


async def test_read_only_retry_after_restart_does_not_answer_twice(aiohttp_client, db_url):
    config = make_config(db_url)
    first = Console(await aiohttp_client(create_app(config)))
    assert len(await first.say("/帮助", event_id="ro-1")) == 1
    await first.client.close()
    second = Console(await aiohttp_client(create_app(config)))
    # Read-only replies are not stored; the retry is recognised and answered with nothing.
    assert await second.say("/帮助", event_id="ro-1") == []


async def test_concurrent_retries_wait_for_the_first(console, db_url):
    replies = await asyncio.gather(
        *[console.say("/改称呼", user="u2", event_id="dup-1") for _ in range(10)]
    )
    assert all(r == replies[0] for r in replies)
    assert "怎么称呼您" in replies[0][0]
    assert await DialogState.filter(user_key="console:u2").count() == 1


async def test_failed_command_rolls_back_its_dedup_key(console, db_url):
    # A refusal raised inside the transaction leaves no record, so a retry is judged afresh.
    from bot.demo import seed

    await seed()
    text = await console.one("/绑定 NOPE", user="secretary", group="g", event_id="f-1")
    assert "没有找到组织代码" in text
    assert await InboundEvent.filter(event_key="f-1").count() == 0


async def test_over_long_event_ids_fail_nobody(console, db_url):
    # A 300-character OneBot message_id / WeChat MsgId, batched with innocent events.
    long_ids = ["x" * 300, "y" * 300 + "1", "y" * 300 + "2"]
    ids = [f"ok-{i}" for i in range(40)] + long_ids
    replies = await asyncio.gather(
        *[console.say("/我", user=f"u{i}", event_id=e) for i, e in enumerate(ids)]
    )
    assert all("平台身份" in r[0] for r in replies)
    # Stored as a fixed-length digest: a retry of a long id is still recognised,
    # and two long ids that share their first 191 characters stay two events.
    assert await console.say("/我", user="u40", event_id=long_ids[0]) == replies[40]
    assert await InboundEvent.filter(event_key__startswith="sha256:").count() == 3
    answer = await console.say("/改称呼", user="v", event_id="z" * 400)
    assert "怎么称呼您" in answer[0]
    assert await console.say("/改称呼", user="v", event_id="z" * 400) == answer


async def test_one_failing_row_does_not_fail_its_batch(db):
    gate = DedupGate(flush_interval=0.05)
    # A platform name longer than its column fails its own row only (PostgreSQL checks it).
    results = await asyncio.gather(
        gate.claim_batched("p" * 40, "bad"),
        *[gate.claim_batched("wechat", f"good-{i}") for i in range(20)],
        return_exceptions=True,
    )
    assert results[1:] == [True] * 20
    assert await InboundEvent.filter(event_key__startswith="good-").count() == 20
    await gate.close()
