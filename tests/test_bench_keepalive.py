"""bench.keepalive against a real aiohttp server on 127.0.0.1: one connection carries
many requests, other statuses and bodies come back as they are, a slow answer ends in
TimeoutError (and the next request connects again), a chunked body is refused, and a
server that closes is read to the close."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest
from aiohttp import web

from bench.keepalive import HttpError, KeepAlive, frame, post_head
from bench.payloads import ONEBOT_SECRET
from bench.scale_cases import Msg


async def _server(aiohttp_server):
    peers: list[object] = []

    async def echo(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        body = await request.read()
        status = int(request.query.get("status", "200"))
        return web.json_response(
            {"got": body.decode(), "sig": request.headers.get("X-S")}, status=status
        )

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"part")
        await resp.write_eof()
        return resp

    async def closing(request: web.Request) -> web.Response:
        resp = web.Response(text="bye", headers={"Connection": "close"})
        resp.force_close()
        return resp

    app = web.Application()
    for path, handler in (
        ("/echo", echo),
        ("/slow", slow),
        ("/empty", empty),
        ("/chunked", chunked),
        ("/closing", closing),
    ):
        app.router.add_post(path, handler)
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"http://127.0.0.1:{server.port}", peers


def post(path: str, body: bytes = b"x", **headers: str) -> bytes:
    return frame(post_head(path, headers), body)


async def test_one_connection_carries_many_requests(aiohttp_server):
    base, peers = await _server(aiohttp_server)
    conn = KeepAlive(base, timeout=5)
    try:
        for i in range(20):
            status, body = await conn.request(post("/echo", f"n{i}".encode(), **{"X-S": str(i)}))
            assert status == 200
            assert json.loads(body) == {"got": f"n{i}", "sig": str(i)}
        status, body = await conn.request(post("/echo?status=503", b"down"))
        assert (status, json.loads(body)["got"]) == (503, "down")
        assert (await conn.request(post("/nowhere")))[0] == 404
        assert await conn.request(post("/empty")) == (204, b"")
        assert (await conn.request(post("/echo")))[0] == 200
    finally:
        conn.close()
    assert conn.connects == 1
    assert len(peers) == 22 and len(set(peers)) == 1


async def test_a_slow_answer_times_out_and_the_next_request_reconnects(aiohttp_server):
    base, _ = await _server(aiohttp_server)
    conn = KeepAlive(base, timeout=0.3)
    try:
        with pytest.raises(TimeoutError):
            await conn.request(post("/slow"))
        assert (await conn.request(post("/echo")))[0] == 200
    finally:
        conn.close()
    assert conn.connects == 2


async def test_chunked_is_refused_and_close_is_followed(aiohttp_server):
    base, _ = await _server(aiohttp_server)
    conn = KeepAlive(base, timeout=5)
    try:
        with pytest.raises(HttpError, match="chunked"):
            await conn.request(post("/chunked"))
        assert await conn.request(post("/closing")) == (200, b"bye")
        assert (await conn.request(post("/echo")))[0] == 200
    finally:
        conn.close()
    assert conn.connects == 3  # after the refusal, and after the close


async def test_a_body_without_length_is_read_to_the_close():
    async def old_style(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the ")
        await writer.drain()
        writer.write(b"end")
        writer.close()

    server = await asyncio.start_server(old_style, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = KeepAlive(f"http://127.0.0.1:{port}", timeout=5)
    try:
        assert await conn.request(post("/", b"")) == (200, b"to the end")
        assert await conn.request(post("/", b"")) == (200, b"to the end")
    finally:
        conn.close()
        server.close()
        await server.wait_closed()
    assert conn.connects == 2


async def test_a_server_that_hangs_up_is_an_error_not_a_hang():
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = KeepAlive(f"http://127.0.0.1:{port}", timeout=5)
    try:
        for _ in range(3):
            with pytest.raises(HttpError, match="closed"):
                await conn.request(post("/"))
    finally:
        conn.close()
        server.close()
        await server.wait_closed()


async def test_a_closed_port_is_an_error_not_a_hang():
    conn = KeepAlive("http://127.0.0.1:9", timeout=2)
    with pytest.raises(OSError):
        await conn.request(post("/echo"))


def test_each_message_is_signed_and_unique():
    msg = Msg(200000001, "/帮助", group=300)
    first, second = msg.request(), msg.request()
    assert first != second
    for raw in (first, second):
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"POST /onebot HTTP/1.1\r\n")
        assert f"Content-Length: {len(body)}".encode() in head
        sig = hmac.new(ONEBOT_SECRET.encode(), body, hashlib.sha1).hexdigest()
        assert f"\r\nX-Signature: sha1={sig}\r\n".encode() in head
        event = json.loads(body)
        assert event["message"] == "/帮助" and event["group_id"] == 300
    ids = {json.loads(r.partition(b"\r\n\r\n")[2])["message_id"] for r in (first, second)}
    assert len(ids) == 2
