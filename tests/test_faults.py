"""Faults under a running `lianxin serve` process: a locked, stopped, read-only, full or
deleted database (issue #11 items 1 and 2). Slow clients and officer templates:
tests/test_faults_clients.py."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.test_serve import _get, served
from tests.wechat_channel.tools import TOKEN, fresh_query, text_xml

KEPT = "您的消息已收到。系统正在恢复数据服务，稍后会自动处理并回复您，无需重发。"
ASK_NAME = "怎么称呼您"


def status(base: str, path: str = "/healthz") -> int:
    try:
        return _get(f"{base}{path}")[0]
    except urllib.error.HTTPError as exc:
        return exc.code


def say(base: str, text: str, user: str = "amy", event_id: str = "") -> dict:
    body = {"user": user, "text": text, **({"id": event_id} if event_id else {})}
    code, raw = _get(f"{base}/console", body, timeout=15)
    assert code == 200
    return json.loads(raw)


def wait_for(check, seconds: float, step: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something true; that value, or None after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return None


def settled(base: str) -> bool:
    """The database is writable again and no kept event waits."""
    try:
        code, raw = _get(f"{base}/healthz")
    except urllib.error.HTTPError:
        return False
    return code == 200 and json.loads(raw)["waiting"] == 0


def pushes_for(base: str, user: str, seconds: float = 20.0) -> list[str]:
    """What the bot pushed to this console user (replies of replayed events)."""
    assert wait_for(lambda: settled(base), seconds, step=0.1), "kept events not replayed"
    return say(base, "/帮助", user=user)["pushes"]


def wechat_says(base: str, text: str, msg_id: int) -> str:
    req = urllib.request.Request(
        f"{base}/wechat?" + urllib.parse.urlencode(fresh_query()),
        data=text_xml(text, msg_id).encode(),
        headers={"Content-Type": "application/xml"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


WECHAT_ON = {"LIANXIN_WECHAT__ENABLED": "true", "LIANXIN_WECHAT__TOKEN": TOKEN}


# -- 1. a locked SQLite database ------------------------------------------------


# Holds the write lock until told (a line on stdin) or for at most argv[2] seconds: the
# test, not a race against the busy timeout on a loaded machine, decides when it ends.
LOCKER = """
import select, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
c.execute("ROLLBACK")
c.close()
print("released", flush=True)
"""


def lock_database(db: Path) -> subprocess.Popen[str]:
    """Another process holding the write lock (for at most a minute), once it holds it."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db), "60"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def test_locked_sqlite_never_wedges_the_server(tmp_path):
    db = tmp_path / "s.sqlite3"
    env = {**WECHAT_ON, "LIANXIN_SERVER__SHUTDOWN_TIMEOUT": "4"}
    with served(db, env) as (proc, base):
        # Another process holds the write lock longer than the busy timeout (5 s).
        locker = lock_database(db)
        try:
            # The request caught by the lock gets a clear answer, not silence or the apology.
            assert say(base, "/改称呼", event_id="lock-1")["replies"] == [KEPT]
            assert status(base) == 503
            assert say(base, "/我", user="bob")["replies"] == [KEPT]
            assert KEPT in wechat_says(base, "/帮助", 9000)  # WeChat is told too, not dropped
            locker.stdin.write("release\n")
            locker.stdin.flush()
            assert locker.stdout.readline().strip() == "released"
            released = time.monotonic()
            # Within 1 s the database is written again and what waited is replayed.
            assert wait_for(lambda: settled(base), 1.0), "not recovered within 1 s"
            assert "平台身份：console:carl" in say(base, "/我", user="carl")["replies"][0]
            assert "平台身份" in wechat_says(base, "/我", 9001)
            assert time.monotonic() - released < 1.0 + 1.0  # generous: three requests on loopback
            # What arrived during the lock was handled once, and answered through the sender.
            assert any(ASK_NAME in p for p in pushes_for(base, "amy"))
            assert any("平台身份：console:bob" in p for p in pushes_for(base, "bob"))
            locker.wait(timeout=5)
        finally:
            locker.kill()
            locker.wait()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=4) == 0


def test_sigterm_stops_the_server_while_another_process_holds_the_lock(tmp_path):
    db = tmp_path / "s.sqlite3"
    env = {"LIANXIN_SERVER__SHUTDOWN_TIMEOUT": "3"}
    with served(db, env) as (proc, base):
        locker = lock_database(db)
        try:
            assert say(base, "/改称呼", event_id="term-1")["replies"] == [KEPT]
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert proc.wait(timeout=10) == 0
            assert time.monotonic() - started < 3 + 1.5  # shutdown_timeout, and a margin
        finally:
            locker.kill()
            locker.wait()
    # what was kept is still there for the next start
    with served(db) as (_, base):
        assert any(ASK_NAME in p for p in pushes_for(base, "amy"))


# -- 2. outages: the message is kept, replayed once, answered through the sender ----


def _outage_then_recovery(base: str, break_it, mend_it, ids: str = "out") -> None:  # type: ignore[no-untyped-def]
    break_it()
    assert wait_for(lambda: status(base) == 503, 10.0), "healthz still 200 during the outage"
    assert say(base, "/改称呼", event_id=f"{ids}-1")["replies"] == [KEPT]
    # A platform's retry of the same event is not kept (nor told) twice.
    assert say(base, "/改称呼", event_id=f"{ids}-1")["replies"] == []
    assert say(base, "/我", user="bob", event_id=f"{ids}-2")["replies"] == [KEPT]
    mend_it()
    assert wait_for(lambda: status(base) == 200, 20.0), "healthz did not recover"
    amy = pushes_for(base, "amy")
    assert [p for p in amy if ASK_NAME in p] == [amy[0]] and len(amy) == 1, amy
    # The dialog the replayed /改称呼 opened is there: the answer lands in it.
    assert say(base, "小周")["replies"] == ["好的，以后就称呼您“小周”。"]
    assert any("平台身份：console:bob" in p for p in pushes_for(base, "bob"))
    assert json.loads(_get(f"{base}/healthz")[1])["waiting"] == 0


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL not configured (set LIANXIN_TEST_PG_URL)")
def test_postgresql_stopped_and_started_under_a_running_server():
    data = Path(os.environ.get("PG_TMPDIR", "")) / "data"
    pgbin = os.environ.get("PGBIN", "")
    if not (data / "postmaster.opts").exists() or not pgbin:
        pytest.skip("PG_TMPDIR/PGBIN of the throwaway cluster (.ci/pg-start) not set")
    opts = shlex.split((data / "postmaster.opts").read_text())[1:]
    as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    name = f"lianxin_fault_{uuid.uuid4().hex[:8]}"
    url = f"{PG_URL.rpartition('/')[0]}/{name}"
    psql = [*as_pg, f"{pgbin}/psql", PG_URL, "-qc"]
    subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)

    def stop() -> None:
        ctl = [*as_pg, f"{pgbin}/pg_ctl", "-D", str(data), "-w", "-m", "fast", "stop"]
        subprocess.run(ctl, check=True, capture_output=True)

    def start() -> None:
        options = shlex.join([o for o in opts if o != "-D" and o != str(data)])
        ctl = [*as_pg, f"{pgbin}/pg_ctl", "-D", str(data), "-l", str(data.parent / "log")]
        subprocess.run([*ctl, "-w", "-o", options, "start"], check=True, capture_output=True)

    env = {"LIANXIN_DATABASE__JOURNAL_PATH": f"{tempfile.mkdtemp()}/inbox.jsonl"}
    try:
        with served(url, env) as (_, base):
            try:
                assert status(base) == 200
                _outage_then_recovery(base, stop, start)
            finally:
                ctl = [*as_pg, f"{pgbin}/pg_ctl", "-D", str(data), "status"]
                if subprocess.run(ctl, capture_output=True).returncode:
                    start()
    finally:
        subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


def _root_only() -> None:
    if os.getuid() != 0:
        pytest.skip("needs root (to run the server as another user / to mount a tmpfs)")


def _chattr(flag: str, *paths: Path) -> None:
    files = [str(p) for p in paths if p.exists()]
    done = subprocess.run(["chattr", flag, *files], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"chattr does not work here: {done.stderr.strip()}")


def test_read_only_sqlite_recovers_when_permissions_return(tmp_path):
    _root_only()  # the immutable flag stands in for permissions (root writes anything)
    db = tmp_path / "s.sqlite3"
    files = (db, tmp_path / "s.sqlite3-wal")
    env = {"LIANXIN_DATABASE__JOURNAL_PATH": str(tmp_path / "inbox.jsonl")}
    # Read-only when the server opens it: SQLite falls back to a read-only connection.
    with served(db, env, before=lambda: _chattr("+i", db)) as (_, base):
        try:
            assert status(base) == 503
            assert say(base, "/改称呼", event_id="ro-1")["replies"] == [KEPT]
        finally:
            _chattr("-i", *files)
        assert wait_for(lambda: status(base) == 200, 10.0), "read-only connection stayed broken"
        assert any(ASK_NAME in p for p in pushes_for(base, "amy"))
        # Read-only under the running server, and back.
        _chattr("+i", *files)
        try:
            _outage_then_recovery(base, lambda: None, lambda: _chattr("-i", *files), "ro2")
        finally:
            _chattr("-i", *files)


def test_full_disk_keeps_messages_until_space_returns(tmp_path):
    _root_only()
    mount = Path(tempfile.mkdtemp(prefix="lianxin-full-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        filler = mount / "filler"
        env = {"LIANXIN_DATABASE__JOURNAL_PATH": str(tmp_path / "inbox.jsonl")}

        def fill() -> None:
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"\0" * 65536):
                    pass
            except OSError:
                pass  # full
            finally:
                os.close(fd)

        with served(mount / "s.sqlite3", env) as (_, base):
            assert status(base) == 200
            _outage_then_recovery(base, fill, filler.unlink)
    finally:
        subprocess.run(["umount", "-l", str(mount)])
        mount.rmdir()


def test_database_file_removed_under_the_server(tmp_path):
    db = tmp_path / "s.sqlite3"
    moved = tmp_path / "elsewhere.sqlite3"
    with served(db) as (_, base):
        assert status(base) == 200
        _outage_then_recovery(base, lambda: db.rename(moved), lambda: moved.rename(db))


def test_serve_refuses_a_missing_or_unmigrated_database(tmp_path):
    for url in (f"sqlite://{tmp_path}/none.sqlite3", f"sqlite://{tmp_path}/empty.sqlite3"):
        (tmp_path / "empty.sqlite3").touch()
        env = {**os.environ, "LIANXIN_DATABASE__URL": url}
        for args in (
            ["serve"],
            ["export", "members", "--org", "SQ001"],
            ["demo"],
            ["admin", "grant", "console:amy", "officer", "SQ001"],
            ["send", "console:amy", "你好"],
            ["chat"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "bot.cli", *args],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 2, done
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "lianxin db upgrade" in lines[0], done.stderr
        assert not (tmp_path / "none.sqlite3").exists()  # no empty database left behind


def take_away(base: str, db: Path) -> Path:
    """Move the database file away under the running server; where it went."""
    moved = db.with_name("elsewhere.sqlite3")
    db.rename(moved)
    assert wait_for(lambda: status(base) == 503, 10.0)
    return moved


def test_kept_messages_survive_a_crash_and_are_replayed_at_start(tmp_path):
    db = tmp_path / "s.sqlite3"
    with served(db) as (proc, base):
        moved = take_away(base, db)
        assert say(base, "/改称呼", event_id="crash-1")["replies"] == [KEPT]
        proc.kill()  # kill -9: only the fsynced journal remembers the message
        proc.wait()
    moved.rename(db)
    with served(db) as (_, base):
        assert [p for p in pushes_for(base, "amy") if ASK_NAME in p]
        assert say(base, "小周")["replies"] == ["好的，以后就称呼您“小周”。"]


def test_kept_messages_are_replayed_in_arrival_order(tmp_path):
    """Two messages of one person during an outage: the answer to the question asked in
    the first only makes sense after it, and a group's message is answered in the group."""
    db = tmp_path / "s.sqlite3"
    with served(db) as (_, base):
        moved = take_away(base, db)
        assert say(base, "/改称呼", event_id="order-1")["replies"] == [KEPT]
        assert say(base, "小周", event_id="order-2")["replies"] == [KEPT]
        body = {"user": "bob", "text": "/我", "group": True, "chat": "g1", "id": "order-3"}
        assert json.loads(_get(f"{base}/console", body)[1])["replies"] == [KEPT]
        moved.rename(db)
        amy = pushes_for(base, "amy")
        assert [p for p in amy if ASK_NAME in p or "小周" in p] == [
            amy[0],
            "好的，以后就称呼您“小周”。",
        ], amy
        # bob's answer went to the group he asked in
        body = {"user": "carl", "text": "/帮助", "group": True, "chat": "g1"}
        g1 = json.loads(_get(f"{base}/console", body)[1])["pushes"]
        assert any("平台身份：console:bob" in p for p in g1), g1
        assert say(base, "/我")["replies"][0].startswith("您好，小周！")
