"""数据库停摆时不丢消息：入站事件先记进本地日志文件（写入并 fsync 后才回答），恢复后按到达顺序重放。

While the database cannot be written (bot/dbhealth.py says so, or handling an
event failed because of it), `Journal.keep` appends the event to a JSON-lines
file and fsyncs it before the user is answered "记下了，稍后处理". Events that
arrive while older ones wait are kept too, so the order holds.

`Journal.run` watches the database (a write probe every `interval` seconds
while it is down or events wait) and, once it can be written, replays the
file in arrival order through the dispatcher, once per event id (an event
without one gets ``journal-<uuid>`` at arrival, so the usual dedup holds across a
crash in the middle of a replay), and sends the replies through the outbound
senders. A replayed event is marked done with a line of its own; the file is
emptied when nothing waits. An event that still fails after `MAX_ATTEMPTS`
replays with the database up is answered with the apology and dropped, so one
bad event cannot hold the others back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections import deque
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.dbhealth import DbHealth
from bot.inbound import Inbound, Reply
from bot.targets import chat_target

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.journal")

MAX_ATTEMPTS = 3
_FIELDS = [f.name for f in fields(Inbound) if f.name != "raw"]


@dataclass(slots=True)
class Entry:
    seq: int
    inbound: Inbound
    attempts: int = 0


def _encode(seq: int, inb: Inbound) -> bytes:
    data = {name: getattr(inb, name) for name in _FIELDS}
    # raw keeps only what channels read back (the WeChat/WeCom MsgType).
    raw = inb.raw if isinstance(inb.raw, dict) else {}
    data["raw"] = {k: v for k, v in raw.items() if isinstance(v, str | int | float)}
    line = json.dumps({"seq": seq, "inbound": data}, ensure_ascii=False, default=str)
    return line.encode("utf-8") + b"\n"


def _decode(data: dict[str, Any]) -> Inbound:
    return Inbound(**{k: v for k, v in data.items() if k in _FIELDS or k == "raw"})


class Journal:
    def __init__(self, path: str | Path, health: DbHealth, interval: float = 0.25) -> None:
        self.path = Path(path)
        self.health = health
        self.interval = interval
        self._waiting: deque[Entry] = deque()
        self._keys: set[tuple[str, str]] = set()
        self._next = 1
        self._lock = asyncio.Lock()
        self._load()

    # -- the file -----------------------------------------------------------
    def _load(self) -> None:
        """Events left by a previous run (stopped or crashed during an outage)."""
        if not self.path.exists():
            return
        entries: dict[int, Entry] = {}
        with self.path.open("rb") as f:
            for raw in f:
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue  # a line cut by a crash was never acknowledged
                if "done" in line:
                    entries.pop(int(line["done"]), None)
                elif "inbound" in line:
                    entries[int(line["seq"])] = Entry(int(line["seq"]), _decode(line["inbound"]))
        for seq in sorted(entries):
            self._remember(entries[seq])
            self._next = max(self._next, seq + 1)
        if self._waiting:
            log.warning("journal: %d event(s) from a previous run wait", len(self._waiting))

    def _remember(self, entry: Entry) -> None:
        self._waiting.append(entry)
        self._keys.add((entry.inbound.platform, entry.inbound.event_id))

    def _append(self, data: bytes, truncate: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
        fd = os.open(self.path, flags, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- keeping ------------------------------------------------------------
    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def must_keep(self) -> bool:
        """Keep new events here: the database is down, or older events still wait."""
        return bool(self._waiting) or not self.health.usable()

    async def keep(self, inb: Inbound) -> bool:
        """Write ``inb`` durably; False when it is a platform's retry of one kept already."""
        async with self._lock:
            if inb.event_id and (inb.platform, inb.event_id) in self._keys:
                return False
            seq = self._next
            self._next += 1
            if not inb.event_id:
                # Unique for good: a later outage must not reuse a replayed event's id.
                inb.event_id = f"journal-{uuid.uuid4().hex}"
            await asyncio.to_thread(self._append, _encode(seq, inb))
            self._remember(Entry(seq, inb))
        return True

    # -- replaying ----------------------------------------------------------
    async def run(self, rt: Runtime) -> None:
        """Watch the database; replay what waits once it can be written. Runs until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            if not (self._waiting or self.health.down or not self.health.usable()):
                continue
            try:
                if await self.health.probe():
                    await self.replay(rt)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("journal: replay failed; trying again")

    async def replay(self, rt: Runtime) -> int:
        """Handle waiting events in arrival order; stops when the database goes away again."""
        from bot.db import is_unavailable

        done = 0
        while self._waiting:
            entry = self._waiting[0]
            inb = entry.inbound
            try:
                replies = await rt.dispatcher.handle(inb, replay=True)
            except Exception as exc:
                entry.attempts += 1
                if is_unavailable(exc) and entry.attempts < MAX_ATTEMPTS:
                    self.health.mark_down(str(exc))
                    return done
                log.exception("journal: giving up on %s %s", inb.platform, inb.event_id)
                replies = [Reply(rt.templates.render("error"))]
            await self._deliver(rt, inb, replies)
            async with self._lock:
                self._waiting.popleft()
                self._keys.discard((inb.platform, inb.event_id))
                last = not self._waiting
                mark = b"" if last else json.dumps({"done": entry.seq}).encode() + b"\n"
                await asyncio.to_thread(self._append, mark, last)
            done += 1
        if done:
            log.warning("journal: replayed %d event(s)", done)
        return done

    @staticmethod
    async def _deliver(rt: Runtime, inb: Inbound, replies: list[Reply]) -> None:
        target = chat_target(inb.platform, inb.chat_id) if inb.is_group else inb.user_key
        outbound = rt.outbound
        assert outbound is not None  # the runtime is started before the journal runs
        for i, reply in enumerate(r for r in replies if r.text.strip()):
            await outbound.send(
                target,
                reply.text,
                purpose="journal",
                dedup_key=f"journal:{inb.platform}:{inb.event_id}:{i}"[:191],
            )
