"""A lean HTTP/1.1 keep-alive client for the load generators.

The load generator shares the machine's cores with the servers it measures, so its own
CPU per request is measurement overhead: aiohttp's ClientSession costs ~0.3 ms per
request in `bench.scale`'s mixed load. This client is one persistent connection (an
asyncio Protocol, one request at a time) that writes request bytes the caller has
prepared and parses just what a benchmark needs of the answer: the status line and
Content-Length. A body without Content-Length is read to the connection's close when
the server says `Connection: close`; a chunked body is refused (HttpError), never
waited for. Every request is bounded by `timeout` (TimeoutError, and the connection is
dropped, since its state is then unknown); the next request connects again.

Two ways to send: `await request(data)`, or `start(data, done)`, which calls
`done(status, body, error)` from the event loop when the answer is in. A load loop
that starts its next request inside `done` costs no task switch per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # a response head longer than this is refused
NO_BODY = (204, 304)

# done(status, body, error): error is None, TimeoutError, HttpError or OSError.
Done = Callable[[int, bytes, BaseException | None], None]


class HttpError(Exception):
    """A response this client will not read (chunked, malformed) or a lost connection."""


def post_head(path: str, headers: dict[str, str], host: str = "127.0.0.1") -> bytes:
    """The fixed part of a POST's head (request line and headers, no Content-Length)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def frame(head: bytes, body: bytes) -> bytes:
    """A whole request: `head` (ending in CRLF), Content-Length, the blank line, body."""
    return b"%bContent-Length: %d\r\n\r\n%b" % (head, len(body), body)


def _field(fields: bytes, needle: bytes) -> bytes | None:
    """A header's value in `fields` (lower-cased, each line after a CRLF), or None;
    `needle` is b"\\r\\n" + the lower-cased name + b":"."""
    at = fields.find(needle)
    if at < 0:
        return None
    at += len(needle)
    end = fields.find(b"\r\n", at)
    return fields[at : end if end >= 0 else len(fields)].strip()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, body length or -1 for "up to the close", whether the server closes).
    Three header lookups by `find` rather than a loop over the lines: this runs once
    per request, with caches cold from the servers under test."""
    at = head.find(b"\r\n")
    line, fields = (head, b"") if at < 0 else (head[:at], head[at:].lower())
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"bad status line {line[:80]!r}")
    status = int(parts[1])
    coding = _field(fields, b"\r\ntransfer-encoding:")
    if coding is not None and coding != b"identity":
        raise HttpError(f"Transfer-Encoding {coding.decode()!r} is not read")
    connection = _field(fields, b"\r\nconnection:")
    closing = connection == b"close" or (parts[0] == b"HTTP/1.0" and connection != b"keep-alive")
    value = _field(fields, b"\r\ncontent-length:")
    if value is not None and not value.isdigit():
        raise HttpError(f"bad Content-Length {value[:20]!r}")
    length = int(value) if value is not None else -1
    if status in NO_BODY or 100 <= status < 200:
        length = 0
    if length < 0 and not closing:
        raise HttpError("response with neither Content-Length nor Connection: close")
    return status, length, closing


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: Done | None = None  # set while a request is in flight
        # One timer per connection, not per request: it stays armed across requests and,
        # when it fires, fails the request in flight only if that one is past its time.
        self.timer: asyncio.TimerHandle | None = None
        self.timeout = 0.0
        self.started = 0.0  # loop time when the request in flight was sent
        self.buf = bytearray()
        self.status = 0
        self.body_at = -1  # where the body starts in buf, once the head is read
        self.need = -1  # buf's length when the body is complete; -1 = up to close
        self.closing = False  # the server said Connection: close

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.done is None:
            self.fail(HttpError("data from the server with no request waiting"))
            return
        if self.body_at < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self.fail(HttpError("response head too long"))
                return
            try:
                self.status, length, self.closing = _parse_head(bytes(buf[:end]))
            except HttpError as e:
                self.fail(e)
                return
            self.body_at = end + 4
            self.need = -1 if length < 0 else self.body_at + length
        if self.need >= 0 and len(buf) >= self.need:
            if len(buf) > self.need:
                self.fail(HttpError("more bytes than the response's Content-Length"))
                return
            self._finish()

    def arm(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.started, self.timeout = loop.time(), timeout
        if self.timer is None:
            self.timer = loop.call_at(self.started + timeout, self._check_time, loop)

    def _check_time(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        if self.done is None:
            return  # idle: the next request arms it again
        due = self.started + self.timeout
        if loop.time() >= due:
            self.fail(TimeoutError())
        else:  # a later request than the one this timer was set for
            self.timer = loop.call_at(due, self._check_time, loop)

    def _settle(self) -> Done | None:
        done, self.done = self.done, None
        return done

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _finish(self) -> None:
        body = bytes(self.buf[self.body_at :])
        self.buf.clear()
        self.body_at = self.need = -1
        if self.closing and self.transport is not None:
            self.transport.close()
        done = self._settle()
        if done is not None:
            done(self.status, body, None)

    def fail(self, exc: BaseException) -> None:
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        done = self._settle()
        if done is not None:
            done(0, b"", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._stop_timer()
        if self.done is None:
            return
        if self.body_at >= 0 and self.need < 0:
            self._finish()  # the body ran to the close, as the server said it would
        else:
            self.fail(HttpError("connection closed before the response ended"))


class KeepAlive:
    """One persistent connection to `base` ("http://host:port"); one request at a time
    (each simulated client has its own)."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        url = urlsplit(base)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"not an http:// base URL: {base!r}")
        self.host, self.port = url.hostname, url.port or 80
        self.timeout = timeout
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Task[None] | None = None
        self.connects = 0  # how many connections were opened (tests check reuse)

    def start(self, data: bytes, done: Done) -> None:
        """Send `data` (whole request bytes, see `frame`); `done` is called once, later."""
        proto = self._proto
        if (proto is not None and proto.done is not None) or self._connecting is not None:
            raise RuntimeError("KeepAlive.start while another request is in flight")
        transport = proto.transport if proto is not None else None
        if proto is None or transport is None or transport.is_closing():
            task = asyncio.get_running_loop().create_task(self._connect_and_start(data, done))
            self._connecting = task  # a reference, so that the task is not collected
            return
        loop = asyncio.get_running_loop()
        proto.done = done
        proto.arm(loop, self.timeout)
        transport.write(data)

    async def _connect_and_start(self, data: bytes, done: Done) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(_Protocol, self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as e:
            done(0, b"", e)
            return
        finally:
            self._connecting = None
        self.connects += 1
        if proto.transport is None or proto.transport.is_closing():
            done(0, b"", HttpError("the new connection closed at once"))
            return  # never loop on connecting
        self._proto = proto
        self.start(data, done)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """(status, body) of one request; raises TimeoutError, HttpError or OSError."""
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()

        def done(status: int, body: bytes, error: BaseException | None) -> None:
            if fut.done():
                return
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result((status, body))

        self.start(data, done)
        try:
            return await fut
        finally:
            if not fut.done():  # cancelled mid-request: the connection is unusable
                self.close()

    def close(self) -> None:
        """Drop the connection; a request in flight is dropped unanswered."""
        proto, self._proto = self._proto, None
        if proto is None:
            return
        proto._stop_timer()
        busy = proto._settle() is not None
        if proto.transport is not None:
            if busy:
                proto.transport.abort()
            else:
                proto.transport.close()
