"""报表车道：干部的查询在成员和居民的消息之后跑，一个进程同时只跑几个。

One event loop serves everyone. An officer's view over a street or a district (the
queue, the flowing members, the statistics) costs tens of milliseconds of CPU and
several queries; a few of them at once put a resident's /帮助 behind all of them.
So reports queue here: `size` at a time per process, and each starts only when no
other message is being handled, or once it has waited `max_wait` seconds, so that a
busy hour delays reports a little and never starves them. Everything else never
touches the lane: it is served first, and between a running report's steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.identity import Caller


def is_report(caller: Caller, mutates: bool) -> bool:
    """A read by someone who looks after an organisation: it may cover all of it.

    Writes never wait (they are short and a retry must find them done); a member's
    own views cover one person or one branch and stay out of the lane."""
    return not mutates and caller.has_role("officer")


class ReportLane:
    """At most `size` reports at a time in this process, after the others; 0: no lane."""

    def __init__(self, size: int, max_wait: float = 1.0) -> None:
        self.size = size
        self.max_wait = max_wait
        self._slots = asyncio.Semaphore(size) if size > 0 else None
        self._quiet = asyncio.Event()
        self._quiet.set()
        self.others = 0  # messages being handled that are not reports in the lane
        self.waiting = 0  # reports queued right now
        self.running = 0

    # -- every message ---------------------------------------------------------------
    def arrive(self) -> None:
        self.others += 1
        self._quiet.clear()

    def leave(self) -> None:
        self.others -= 1
        if self.others <= 0:
            self._quiet.set()

    # -- reports ---------------------------------------------------------------------
    def slot(self, report: bool) -> AbstractAsyncContextManager[Any]:
        """`async with lane.slot(is_report(...)):` around the work of an arrived message."""
        if not report or self._slots is None:
            return nullcontext()
        return self._report()

    @asynccontextmanager
    async def _report(self) -> AsyncIterator[None]:
        await self._enter()
        try:
            yield
        finally:
            self._exit()

    @asynccontextmanager
    async def page(self) -> AsyncIterator[None]:
        """A workbench page: a report that did not come in as a message."""
        self.arrive()
        try:
            async with self.slot(True):
                yield
        finally:
            self.leave()

    async def _enter(self) -> None:
        assert self._slots is not None
        self.leave()  # a queued report is not work the others wait for
        self.waiting += 1
        try:
            await self._slots.acquire()
            try:
                await self._after_the_others()
            except BaseException:
                self._slots.release()
                raise
        except BaseException:
            self.arrive()
            raise
        finally:
            self.waiting -= 1
        self.running += 1

    async def _after_the_others(self) -> None:
        deadline = time.monotonic() + self.max_wait
        while self.others > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._quiet.wait(), left)
            except TimeoutError:
                return

    def _exit(self) -> None:
        assert self._slots is not None
        self.running -= 1
        self._slots.release()
        self.arrive()  # back to an ordinary message until handle() ends
