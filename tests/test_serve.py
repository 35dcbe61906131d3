"""`lianxin serve` as an operator starts it: a real process on 127.0.0.1, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read()


@contextlib.contextmanager
def served(
    db_file: Path | str,
    env: dict[str, str] | None = None,
    before: Callable[[], None] | None = None,
    user: str | None = None,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`lianxin db upgrade`, then `lianxin serve` on a free port, up and answering.

    ``db_file`` may be a database URL; ``env`` adds LIANXIN_* settings; ``before`` runs
    between the upgrade and the start; ``user`` runs the server as that user (root only)."""
    url = db_file if isinstance(db_file, str) else f"sqlite://{db_file}"
    env = {**os.environ, "LIANXIN_DATABASE__URL": url, **(env or {})}
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    if before is not None:
        before()
    port = _free_port()
    # A file, not a pipe: nobody drains a pipe while the test runs, and a server that
    # logs 64 KiB (tracebacks during an outage) would block on it with its event loop.
    log = tempfile.NamedTemporaryFile("w+", prefix="lianxin-serve-", suffix=".log")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        user=user,
    )
    proc.stderr = open(log.name, encoding="utf-8")  # what it logged so far, for the test
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"{base}/healthz")
                break
            except urllib.error.HTTPError:
                break  # up, and saying the database is not writable
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        log.close()


def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path):
    with served(tmp_path / "s.sqlite3") as (proc, base):
        status, body = _get(f"{base}/healthz")
        assert status == 200 and json.loads(body)["database"] is True
        status, body = _get(f"{base}/console", {"user": "amy", "text": "/我"})
        assert "平台身份：console:amy" in json.loads(body)["replies"][0]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        stderr = proc.stderr.read()
        assert "Traceback" not in stderr
        # One structured line per event, with the outcome.
        assert '"platform": "console"' in stderr and '"outcome": "ok"' in stderr


def test_sigterm_lets_an_in_flight_request_finish(tmp_path):
    db_file = tmp_path / "s.sqlite3"
    with served(db_file) as (proc, base):
        # Hold the database so a command that writes must wait for it.
        lock = sqlite3.connect(db_file, timeout=1)
        lock.execute("BEGIN EXCLUSIVE")
        result: dict = {}

        def request() -> None:
            try:
                result["reply"] = _get(f"{base}/console", {"user": "amy", "text": "/改称呼"})
            except Exception as exc:  # reported by the assertion below
                result["error"] = exc

        worker = threading.Thread(target=request)
        worker.start()
        time.sleep(0.5)  # the request is in flight, waiting on the lock
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None, ("the server quit with a request in flight", result)
        lock.rollback()
        lock.close()
        worker.join(timeout=15)
        assert "error" not in result, result
        status, body = result["reply"]
        assert status == 200 and "怎么称呼您" in json.loads(body)["replies"][0]
        assert proc.wait(timeout=15) == 0
