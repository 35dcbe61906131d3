"""智能机器人的流式回复：每条消息一个 stream id，平台来刷新，直到 finish。

The WeCom smart robot shows an answer to a message as a *stream* (document
101031): our reply to the message callback opens it (``stream {id, finish,
content}``), and as long as ``finish`` is false the platform calls back with
``msgtype "stream"`` and that id, each time getting the whole content so far.
The dispatcher's answer is one piece, so a stream has two states: still
running (``finish`` false, no content yet) and done (the whole reply, ``finish``
true). The platform stops refreshing about six minutes after the message;
streams are forgotten after `STREAM_SECONDS`.

A message the platform delivers again (same ``msgid``) gets its first stream.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

STREAM_SECONDS = 420.0
MAX_STREAMS = 10_000


@dataclass(slots=True)
class Stream:
    id: str
    task: asyncio.Task[str]
    started: float

    @property
    def finished(self) -> bool:
        return self.task.done()

    def content(self) -> str:
        """The reply text when finished ("" while running or if the handler failed)."""
        if not self.task.done() or self.task.cancelled() or self.task.exception():
            return ""
        return self.task.result()


class Streams:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._by_id: OrderedDict[str, Stream] = OrderedDict()
        self._by_msgid: dict[str, str] = {}

    def for_message(self, msgid: str) -> Stream | None:
        """The stream already opened for this message (a platform retry), if any."""
        self._forget_old()
        stream_id = self._by_msgid.get(msgid)
        return self._by_id.get(stream_id) if stream_id else None

    def open(self, msgid: str, answer: Coroutine[Any, Any, str]) -> Stream:
        """Start answering a message; its stream id goes back to the platform."""
        stream = Stream(secrets.token_hex(12), asyncio.create_task(answer), self.clock())
        self._by_id[stream.id] = stream
        if msgid:
            self._by_msgid[msgid] = stream.id
        return stream

    def get(self, stream_id: str) -> Stream | None:
        self._forget_old()
        return self._by_id.get(stream_id)

    async def wait(self, stream: Stream, seconds: float) -> None:
        """Give the answer up to ``seconds`` to finish (it goes on running after)."""
        if not stream.finished and seconds > 0:
            await asyncio.wait({stream.task}, timeout=seconds)

    def _forget_old(self) -> None:
        cutoff = self.clock() - STREAM_SECONDS
        while self._by_id:
            stream = next(iter(self._by_id.values()))
            if stream.started >= cutoff and len(self._by_id) <= MAX_STREAMS:
                break
            self._by_id.popitem(last=False)
        if len(self._by_msgid) > len(self._by_id):
            self._by_msgid = {m: s for m, s in self._by_msgid.items() if s in self._by_id}

    async def close(self, timeout: float) -> None:
        """At shutdown: let answers still running finish (they may write to the database)."""
        running = [s.task for s in self._by_id.values() if not s.task.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=timeout)
            for task in late:
                task.cancel()
