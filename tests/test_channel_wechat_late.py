"""WeChat's 5-second limit, retries and the customer-service path, over real loopback HTTP.

Nothing of ours is mocked: a handler is made slow by the database itself. The
test holds a lock on ``dialog_state`` from a separate connection (PostgreSQL:
``LOCK TABLE … IN ACCESS EXCLUSIVE MODE`` over asyncpg; SQLite: an exclusive
write transaction over the stdlib sqlite3 module, which our connection waits
on through SQLite's busy timeout) while /改称呼 — a command that writes a
DialogState row — is sent. Late replies go to the fake WeChat API
(tests/fakes/wechat_api.py) on 127.0.0.1, where ``wechat.api_base`` points.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import asyncpg
import pytest

from bot.templates import Templates
from models.events import DialogState, InboundEvent
from tests.fakes.wechat_api import FakeWechatAPI
from tests.wechat_channel.tools import (
    APPID,
    OPENID,
    RENAME_ASK,
    SECRET,
    WHOLE,
    WechatPush,
    event_xml,
    metric,
    reply_fields,
    start,
    text_xml,
)

BUDGET = 0.5
HOLD = 1.5


@pytest.fixture
async def fake(aiohttp_server):
    return await FakeWechatAPI(APPID, SECRET).serve(aiohttp_server)


async def with_sender(
    aiohttp_client, db_url: str, fake: FakeWechatAPI, bot: dict[str, Any] | None = None, **more: Any
):
    settings: dict[str, Any] = {
        "appid": APPID,
        "secret": SECRET,
        "api_base": fake.base_url,
        "reply_budget_seconds": BUDGET,
    }
    return await start(aiohttp_client, db_url, bot, **(settings | more))


async def hold_dialog_state(db_url: str, seconds: float = HOLD) -> asyncio.Task[None]:
    return await hold_table(db_url, "dialog_state", seconds)


async def hold_table(db_url: str, table: str, seconds: float = HOLD) -> asyncio.Task[None]:
    """Lock a table (SQLite: the whole database) from another connection.

    Returns once the lock is held; the returned task releases it after `seconds`.
    """
    held = asyncio.Event()

    async def postgres() -> None:
        conn = await asyncpg.connect(db_url)
        try:
            async with conn.transaction():
                await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                held.set()
                await asyncio.sleep(seconds)
        finally:
            await conn.close()

    async def sqlite() -> None:
        conn = sqlite3.connect(db_url[len("sqlite://") :], isolation_level=None, timeout=5)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            held.set()
            await asyncio.sleep(seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    task = asyncio.create_task(sqlite() if db_url.startswith("sqlite://") else postgres())
    waiter = asyncio.create_task(held.wait())
    await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # raises what went wrong
    assert held.is_set()
    return task


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def timed_post(wechat: WechatPush, body: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    resp = await wechat.post(body)
    text = await resp.text()
    return resp.status, text, time.perf_counter() - started


def custom_texts(fake: FakeWechatAPI) -> list[str]:
    return [b["text"]["content"] for b in fake.delivered if b["touser"] == OPENID]


async def dialog_rows() -> int:
    return await DialogState.filter(user_key=f"wechat:{OPENID}").count()


# -- duplicates ---------------------------------------------------------------------------


async def test_duplicate_msgid_does_not_act_twice(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    msg_id = wechat.msg_id()
    assert await wechat.say("/改称呼", msg_id=msg_id) == RENAME_ASK
    assert await dialog_rows() == 1
    # WeChat's retry of the same MsgId: the same answer, nothing done again.
    assert await wechat.say("/改称呼", msg_id=msg_id) == RENAME_ASK
    # Finish the dialog: the DialogState row is gone.
    assert "小王" in await wechat.say("小王")
    assert await dialog_rows() == 0
    # A late retry of the first message must not start the dialog again.
    assert await wechat.say("/改称呼", msg_id=msg_id) == RENAME_ASK
    assert await dialog_rows() == 0
    assert await InboundEvent.filter(platform="wechat", event_key=str(msg_id)).count() == 1
    assert (
        await metric(
            client, "lianxin_events_total", platform="wechat", command="rename", outcome="ok"
        )
        == 1
    )


async def test_duplicate_event_delivery(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    body = event_xml("subscribe", create_time=1714000000)
    first = await wechat.exchange(body)
    assert first.startswith("欢迎关注连心")
    assert await wechat.exchange(body) == first
    key = f"{OPENID}:1714000000:subscribe"
    assert await InboundEvent.filter(platform="wechat", event_key=key).count() == 1
    assert await metric(client, "lianxin_dedup_hits_total", platform="wechat") == 1


# -- the 5-second budget -----------------------------------------------------------------


async def test_slow_handler_answers_success_then_customer_service(aiohttp_client, db_url, fake):
    client = await with_sender(aiohttp_client, db_url, fake)
    wechat = WechatPush(client)
    assert await wechat.say("/帮助")  # warm up: identity row, token-free path
    body = text_xml("/改称呼", wechat.msg_id())

    lock = await hold_dialog_state(db_url)
    status, text, elapsed = await timed_post(wechat, body)
    assert (status, text) == (200, "success")
    assert BUDGET - 0.05 <= elapsed < 1.0, elapsed
    assert custom_texts(fake) == []

    # WeChat's retry while the first delivery still waits on the lock: "success" again.
    status, text, elapsed = await timed_post(wechat, body)
    assert (status, text) == (200, "success")
    assert elapsed < 0.4, elapsed

    await lock
    await wait_for(lambda: len(fake.delivered) >= 1)
    assert custom_texts(fake) == [RENAME_ASK]
    [send] = fake.sends
    assert send.json == {"touser": OPENID, "msgtype": "text", "text": {"content": RENAME_ASK}}
    assert await dialog_rows() == 1

    # A retry after the late reply went out: still "success", nothing sent or done again.
    status, text, _ = await timed_post(wechat, body)
    assert (status, text) == (200, "success")
    await asyncio.sleep(0.2)
    assert custom_texts(fake) == [RENAME_ASK]
    assert await dialog_rows() == 1
    assert (
        await metric(client, "lianxin_outbound_sends_total", platform="wechat", outcome="ok") == 1
    )
    assert await metric(client, "lianxin_dedup_hits_total", platform="wechat") == 2


async def test_late_reply_without_sender_is_counted(aiohttp_client, db_url, caplog):
    client = await start(aiohttp_client, db_url, reply_budget_seconds=BUDGET)
    wechat = WechatPush(client)
    lock = await hold_dialog_state(db_url)
    status, text, _ = await timed_post(wechat, text_xml("/改称呼", wechat.msg_id()))
    assert (status, text) == (200, "success")
    await lock

    async def counted() -> float:
        return await metric(
            client, "lianxin_outbound_sends_total", platform="wechat", outcome="no_sender"
        )

    deadline = time.monotonic() + 10
    while await counted() < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert "no customer-service sender" in caplog.text
    assert await dialog_rows() == 1  # the work itself was done


async def test_late_reply_send_failure_is_counted(aiohttp_client, db_url, fake):
    fake.subscribers = {"somebody-else"}  # our user: 45015, window closed / unsubscribed
    client = await with_sender(aiohttp_client, db_url, fake)
    wechat = WechatPush(client)
    lock = await hold_dialog_state(db_url)
    status, text, _ = await timed_post(wechat, text_xml("/改称呼", wechat.msg_id()))
    assert (status, text) == (200, "success")
    await lock
    await wait_for(lambda: len(fake.sends) >= 1)
    await asyncio.sleep(0.1)
    assert fake.delivered == []
    assert len(fake.sends) == 1  # permanent: not retried
    assert (
        await metric(client, "lianxin_outbound_sends_total", platform="wechat", outcome="failed")
        == 1
    )


async def test_shutdown_waits_for_late_replies(aiohttp_client, db_url, fake):
    client = await with_sender(aiohttp_client, db_url, fake)
    wechat = WechatPush(client)
    lock = await hold_dialog_state(db_url)
    status, text, _ = await timed_post(wechat, text_xml("/改称呼", wechat.msg_id()))
    assert (status, text) == (200, "success")
    # SIGTERM now: the app shuts down while the handler still waits on the lock.
    await client.close()
    assert lock.done()
    assert custom_texts(fake) == [RENAME_ASK]


# -- replies over 2048 bytes --------------------------------------------------------------


async def test_long_reply_continues_through_customer_service(aiohttp_client, db_url, fake):
    client = await with_sender(aiohttp_client, db_url, fake, WHOLE, reply_budget_seconds=4.5)
    wechat = WechatPush(client)
    word = "字" * 4000
    expected = Templates().render("unknown_command", word=word, guess=None)
    assert len(expected.encode()) > 5 * 2048

    resp = await wechat.post(text_xml("/" + word, wechat.msg_id()))
    raw = await resp.text()
    assert resp.status == 200
    passive = reply_fields(raw)["Content"]
    assert len(passive.encode("utf-8")) <= 2048
    assert passive.startswith("没有“/字字")

    await wait_for(lambda: len(fake.delivered) >= 5)
    await asyncio.sleep(0.1)
    rest = custom_texts(fake)
    assert all(len(p.encode("utf-8")) <= 2048 for p in rest)
    # Cut on line ends (or inside an over-long line): nothing lost, nothing repeated.
    assert (passive + "".join(rest)).replace("\n", "") == expected.replace("\n", "")
    assert rest[-1].endswith("发送 /帮助 查看可用命令。")
    assert await metric(
        client, "lianxin_outbound_sends_total", platform="wechat", outcome="ok"
    ) == len(rest)


async def test_long_late_reply_is_split_and_capped(aiohttp_client, db_url, fake):
    """A late reply also goes in ≤2048-byte parts, at most 5 after a user message.

    "/组织" lists every organisation (arguments are bounded, so a long list it is); it
    is read-only, so its dedup row is written by the batched INSERT into inbound_event,
    which the lock holds up.
    """
    from models.people import Organization

    client = await with_sender(aiohttp_client, db_url, fake, WHOLE)
    wechat = WechatPush(client)
    for i in range(200):  # ~20 KB of reply: 10 parts
        await Organization.create_in_tree(f"L{i:03d}", "长" * 30, "community")
    expected = Templates().render("orgs", orgs=await Organization.all().order_by("path"))
    lock = await hold_table(db_url, "inbound_event")
    status, text, _ = await timed_post(wechat, text_xml("/组织", wechat.msg_id()))
    assert (status, text) == (200, "success")
    await lock
    await wait_for(lambda: len(fake.delivered) >= 5)
    await asyncio.sleep(0.2)
    parts = custom_texts(fake)
    assert len(parts) == 5
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert expected.startswith("\n".join(parts[:4]))  # split on line ends
    assert parts[-1].endswith("…")
