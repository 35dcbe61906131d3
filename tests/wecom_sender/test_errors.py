"""WecomSender platform errors, retries and timeouts, and failures through the Outbound layer."""

from __future__ import annotations

import pytest

from bot.inbound import Reply
from bot.outbound import Outbound
from bot.senders.base import SendResult
from bot.targets import Target
from models.deliveries import Delivery
from tests.fakes.wecom_api import FakeWecomAPI
from tests.wecom_sender.tools import USER, make_sender

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
