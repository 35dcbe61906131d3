"""Faults from the outside under a running `lianxin serve` process (issue #11 items 6 and 7):
officer templates that would stall the bot, stalled clients, oversized uploads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.config import Config
from tests.test_faults import say, status
from tests.test_serve import _get, served

MB = 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def port_of(base: str) -> int:
    return int(base.rpartition(":")[2])


def closed_by_server(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes the connection within ``seconds`` (reads until EOF)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_stalled_clients_are_cut_off_after_the_timeout(tmp_path):
    assert Config().server.client_timeout == 30  # the default
    with served(tmp_path / "s.sqlite3", {"LIANXIN_SERVER__CLIENT_TIMEOUT": "1.5"}) as (_, base):
        port = port_of(base)
        started = time.monotonic()
        partial_headers = socket.create_connection(("127.0.0.1", port))
        partial_headers.sendall(b"POST /console HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        short_body = socket.create_connection(("127.0.0.1", port))
        short_body.sendall(
            b"POST /console HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"user": "amy", '
        )
        assert closed_by_server(partial_headers, 10) and closed_by_server(short_body, 10)
        assert 1.4 < time.monotonic() - started < 8
        # Everybody else was served all along.
        assert status(base) == 200
        assert "平台身份：console:amy" in say(base, "/我")["replies"][0]


def _upload(port: int, size: int, chunked: bool) -> None:
    """One 10 MB upload the way a hostile client sends it: as fast as the socket takes it."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        head = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        s.sendall(f"POST /console HTTP/1.1\r\nHost: x\r\n{head}\r\n\r\n".encode())
        block = b"x" * 65536
        if chunked:
            block = f"{len(block):x}\r\n".encode() + block + b"\r\n"
        sent = 0
        try:
            while sent < size:
                sent += s.send(block)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            answer = s.recv(200)
        except OSError:
            return  # closed by the server while we were still sending: refused
        assert not answer or answer.startswith(b"HTTP/1.1 413"), answer


def test_oversized_uploads_are_refused_without_reading_them(tmp_path):
    with served(tmp_path / "s.sqlite3") as (proc, base):
        port = port_of(base)
        before = rss_mb(proc.pid)
        deadline = time.monotonic() + 120
        for i in range(1800):
            _upload(port, 10 * MB, chunked=i % 10 == 0)
            assert time.monotonic() < deadline, f"only {i} uploads in 120 s"
        after = rss_mb(proc.pid)
        assert after < 150, (before, after)
        # Refused on Content-Length alone: 413 before any of the body is sent.
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /console HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n")
            s.settimeout(5)
            assert s.recv(200).startswith(b"HTTP/1.1 413")
        assert status(base) == 200


# Three nested loops: billions of steps, past any time limit on any machine.
LOOPS = (
    "{% for a in range(2000) %}{% for b in range(2000) %}{% for c in range(2000) %}"
    "{% endfor %}{% endfor %}{% endfor %}完"
)
BOMB = "{{ ('x' * 1000000000)|length }}"


def _officer(db_file: Path) -> None:
    env = {**os.environ, "LIANXIN_DATABASE__URL": f"sqlite://{db_file}"}
    for args in (["demo"], ["admin", "grant", "console:sec", "officer", "SQ001"]):
        cmd = [sys.executable, "-m", "bot.cli", *args]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=60)


def test_officer_templates_cannot_stall_the_bot(tmp_path):
    db = tmp_path / "s.sqlite3"
    env = {"LIANXIN_BROADCASTS__RENDER_TIMEOUT_SECONDS": "3"}
    with served(db, env, before=lambda: _officer(db)) as (proc, base):
        result: dict = {}

        def preview(text: str) -> None:
            result[text] = say(base, f"/预览 {text}", user="sec")["replies"][0]

        worker = threading.Thread(target=preview, args=(LOOPS,))
        worker.start()
        time.sleep(0.5)  # the template is rendering
        answered = []
        while worker.is_alive():
            started = time.monotonic()
            assert status(base) == 200
            assert "平台身份：console:amy" in say(base, "/我")["replies"][0]
            answered.append(time.monotonic() - started)
            time.sleep(0.2)
        worker.join()
        assert result[LOOPS].startswith("这段内容渲染时超过了 3.0 秒，已拒绝。")
        assert answered and max(answered) < 1.0, answered
        preview(BOMB)
        assert result[BOMB].startswith("这段内容渲染时需要的内存超过了 256 MB")
        assert rss_mb(proc.pid) < 150
        assert json.loads(_get(f"{base}/healthz")[1])["database"] is True
