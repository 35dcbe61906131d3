"""The outbound layer: refusal up front, a Delivery row per outcome, never twice."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from bot.clock import ManualClock
from bot.config import WechatConfig
from bot.outbound import Outbound
from bot.senders.tokens import TokenCache
from bot.senders.wechat import WechatSender
from bot.targets import BadTarget, Target
from models.deliveries import Delivery
from tests.fakes.wechat_api import FakeWechatAPI


@pytest.fixture
async def wechat(aiohttp_server, db):
    fake = await FakeWechatAPI().serve(aiohttp_server)
    config = WechatConfig(
        enabled=True, token="t", appid=fake.appid, secret=fake.secret, api_base=fake.base_url
    )
    async with aiohttp.ClientSession() as session:
        sender = WechatSender(config, session, TokenCache(), backoff_base=0.01)
        yield fake, Outbound({"wechat": sender})


def test_target_parsing():
    t = Target.parse("onebot-group:123")
    assert (t.platform, t.kind, t.id, str(t)) == ("onebot", "group", "123", "onebot-group:123")
    assert Target.parse("wecom-robot:notices").kind == "robot"
    assert Target.parse("wechat:oAB:C").id == "oAB:C"
    for bad in ["", "oops", "telegram:1", "wechat:"]:
        with pytest.raises(BadTarget):
            Target.parse(bad)


async def test_sent_delivery_recorded(wechat):
    fake, outbound = wechat
    row = await outbound.send("wechat:oUser1", "通知：明天开会", purpose="cli")
    assert (row.status, row.attempts, row.error_code) == ("sent", 1, None)
    assert fake.delivered[-1]["text"]["content"] == "通知：明天开会"
    stored = await Delivery.get(id=row.id)
    assert stored.status == "sent" and stored.finished_at is not None
    assert stored.target == "wechat:oUser1" and stored.purpose == "cli"


async def test_delivery_times_are_the_runtime_clock(wechat):
    """A drill under LIANXIN_NOW stamps its own date, as the broadcaster's rows do."""
    _fake, outbound = wechat
    clock = ManualClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    outbound.now = clock.now
    row = await outbound.send("wechat:oUser1", "通知", purpose="cli")
    stored = await Delivery.get(id=row.id)
    assert stored.created_at == stored.finished_at == clock.now()


async def test_refused_targets_are_recorded_not_sent(wechat):
    fake, outbound = wechat
    assert outbound.refusal("wechat:o1") is None
    # An Official Account cannot post into WeChat groups: refused when scheduled.
    assert outbound.refusal(Target("wecom-chat", "c1")) == (
        "wecom: not configured (no sender for this platform)"
    )
    assert (
        outbound.refusal("onebot-group:1") == "onebot: not configured (no sender for this platform)"
    )
    assert outbound.refusal("qq-group:1") == "qq: not configured (no sender for this platform)"
    row = await outbound.send("qq-group:1", "hi")
    assert row.status == "refused"
    assert row.reason == "qq: not configured (no sender for this platform)"
    sends_before = len(fake.sends)
    bad = await outbound.send("nonsense", "hi")
    assert bad.status == "refused" and "expected PREFIX:ID" in bad.reason
    assert len(fake.sends) == sends_before


async def test_permanent_failure_recorded_with_code(wechat):
    fake, outbound = wechat
    fake.fail_next(45015)
    row = await outbound.send("wechat:oGone", "hi")
    assert (row.status, row.error_code, row.attempts) == ("failed", 45015, 1)
    assert row.reason


async def test_dedup_key_never_sends_twice(wechat):
    fake, outbound = wechat
    first = await outbound.send("wechat:o1", "一次", dedup_key="b1:2026-11-22T08:00:wechat:o1")
    again = await outbound.send("wechat:o1", "一次", dedup_key="b1:2026-11-22T08:00:wechat:o1")
    assert first.id == again.id
    assert [d["text"]["content"] for d in fake.delivered].count("一次") == 1
    assert await Delivery.filter(dedup_key__startswith="b1:").count() == 1
