"""Issue #15 item 3, from outside: while officers' reports are queued, a resident's and a
member's messages are answered; the officer's report waits its turn and then gets the
same answer as on a quiet day (bot/lanes.py)."""

from __future__ import annotations

import asyncio

from bot.app import RUNTIME
from tests.test_requests_chat import number_in


async def _until(check, what: str) -> None:
    for _ in range(500):  # bounded: 5 s
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {what}")


async def test_members_are_answered_while_reports_wait_their_turn(console, demo):
    runtime = console.client.app[RUNTIME]
    lane = runtime.reports
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    filed = await console.one("/诉求 3号楼楼道灯坏了", user="resident1", group="g1")
    number = number_in(filed)
    quiet_report = await console.one("/工单", user="secretary")
    quiet_help = await console.one("/帮助", user="resident1")
    assert number in quiet_report

    async with lane.page():  # a workbench page holds the lane
        report = asyncio.create_task(console.one("/工单", user="secretary"))
        await _until(lambda: lane.waiting == 1, "queued the officer's report")
        assert await console.one("/帮助", user="resident2") == quiet_help
        assert "平台身份：console:resident2" in await console.one("/我", user="resident2")
        # An officer's write is not a report: it does not wait either.
        accepted = await console.one(f"/接单 {number}", user="secretary", group="g1")
        assert "已接单" in accepted, accepted
        await asyncio.sleep(0.05)
        assert not report.done() and lane.waiting == 1
    waited = await asyncio.wait_for(report, 5)
    assert (lane.others, lane.waiting, lane.running) == (0, 0, 0)
    # The queued report ran after the write: it shows the request accepted, exactly as
    # the same view asked now.
    assert waited != quiet_report and number in waited
    assert waited == await console.one("/工单", user="secretary")
