"""The report lane (bot/lanes.py): who queues, and that a report starts only after the
messages in hand, one at a time, and never waits past max_wait. No database."""

from __future__ import annotations

import asyncio

import pytest

from bot.identity import Caller, OrgView, RoleView
from bot.lanes import ReportLane, is_report

ORG = OrgView(1, "SQ001", "幸福社区", "community", "/1/")


def caller(*roles: str) -> Caller:
    return Caller("console", "u", "", 7, None, tuple(RoleView(r, ORG) for r in roles))


def test_officers_reads_are_reports_and_nothing_else_is():
    assert is_report(caller("officer"), mutates=False)
    assert is_report(caller("member", "officer"), mutates=False)
    assert is_report(caller("admin"), mutates=False)
    assert not is_report(caller("officer"), mutates=True)  # writes never wait
    assert not is_report(caller("member"), mutates=False)
    assert not is_report(caller(), mutates=False)  # a resident


async def _report(lane: ReportLane, log: list[str], name: str, hold: asyncio.Event) -> None:
    lane.arrive()  # as Dispatcher.handle does for every message
    try:
        async with lane.slot(True):
            log.append(f"{name} starts")
            await hold.wait()
            log.append(f"{name} ends")
    finally:
        lane.leave()


async def _turns() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_report_starts_after_the_messages_in_hand():
    lane = ReportLane(1, max_wait=60)
    log: list[str] = []
    go = asyncio.Event()
    lane.arrive()  # a resident's /帮助 being handled
    task = asyncio.create_task(_report(lane, log, "report", go))
    await _turns()
    assert log == [] and lane.waiting == 1
    lane.arrive()  # another message comes while the report waits: it does not wait
    lane.leave()
    await _turns()
    assert log == []
    lane.leave()  # the first message is answered
    await _turns()
    assert log == ["report starts"] and lane.running == 1
    lane.arrive()  # a message arriving during the report is not held up by it
    assert lane.others == 1
    lane.leave()
    go.set()
    await task
    assert log == ["report starts", "report ends"]
    assert (lane.others, lane.waiting, lane.running) == (0, 0, 0)


async def test_one_report_at_a_time_in_arrival_order():
    lane = ReportLane(1, max_wait=60)
    log: list[str] = []
    first, second = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(_report(lane, log, "a", first))
    await _turns()
    b = asyncio.create_task(_report(lane, log, "b", second))
    await _turns()
    assert log == ["a starts"] and lane.waiting == 1
    second.set()
    await _turns()
    assert log == ["a starts"]  # b waits for a's slot, not for a's end of the message
    first.set()
    await asyncio.gather(a, b)
    assert log == ["a starts", "a ends", "b starts", "b ends"]


async def test_a_busy_hour_delays_a_report_but_never_starves_it():
    lane = ReportLane(1, max_wait=0.05)
    log: list[str] = []
    go = asyncio.Event()
    go.set()
    lane.arrive()  # a message that is never answered
    await asyncio.wait_for(_report(lane, log, "report", go), 5)
    assert log == ["report starts", "report ends"]
    assert lane.others == 1


async def test_a_report_cancelled_while_waiting_leaves_the_lane_as_it_was():
    lane = ReportLane(1, max_wait=60)
    lane.arrive()
    task = asyncio.create_task(_report(lane, [], "report", asyncio.Event()))
    await _turns()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (lane.others, lane.waiting, lane.running) == (1, 0, 0)
    lane.leave()
    log: list[str] = []
    go = asyncio.Event()
    go.set()
    await asyncio.wait_for(_report(lane, log, "next", go), 5)  # the slot was given back
    assert log == ["next starts", "next ends"]


async def test_size_zero_turns_the_lane_off():
    lane = ReportLane(0)
    lane.arrive()
    log: list[str] = []
    go = asyncio.Event()
    go.set()
    await asyncio.wait_for(_report(lane, log, "report", go), 5)
    assert log == ["report starts", "report ends"]
