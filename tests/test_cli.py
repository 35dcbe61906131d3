"""The operator's commands, run as an operator runs them (a subprocess per command)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture
def run(tmp_path):
    env = {
        **os.environ,
        "LIANXIN_DATABASE__URL": f"sqlite://{tmp_path}/cli.sqlite3",
    }

    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    return _run


def test_upgrade_demo_grant_and_chat(run):
    assert run("db", "upgrade").returncode == 0
    again = run("db", "upgrade")
    assert again.returncode == 0 and "schema up to date" in again.stdout
    assert "demo organisation created" in run("demo", "--if-empty").stdout
    assert "nothing to do" in run("demo", "--if-empty").stdout

    granted = run("admin", "grant", "onebot:12345", "officer", "zb001")
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == "granted: onebot:12345 officer of ZB001"
    assert run("admin", "grant", "onebot:12345", "officer", "ZB001").stdout.startswith(
        "already had"
    )

    bad = run("admin", "grant", "onebot:12345", "officer", "NOPE")
    assert bad.returncode == 2 and "unknown organisation code 'NOPE'" in bad.stderr
    assert run("admin", "grant", "onebot:12345", "officer").returncode == 2
    assert run("admin", "grant", "nobody", "admin").returncode == 2

    chat = run("chat", "--user", "secretary", stdin="/我\n/组织\n")
    assert chat.returncode == 0, chat.stderr
    assert "您好，王书记！" in chat.stdout
    assert "角色：党务工作者（和平社区党委）" in chat.stdout
    assert "SQ001 · 和平社区党委（社区）" in chat.stdout


def test_config_file_before_or_after_the_subcommand(run, tmp_path):
    for i, order in enumerate(["before", "after"]):
        path = tmp_path / f"c{i}.toml"
        db = tmp_path / f"from-file-{i}.sqlite3"
        path.write_text(f'[database]\nurl = "sqlite://{db}"\n', "utf-8")
        env_db = tmp_path / "cli.sqlite3"
        args = ["--config", str(path), "db", "upgrade"]
        if order == "after":
            args = ["db", "upgrade", "--config", str(path)]
        # The environment override still wins over the file; drop it for this check.
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env={k: v for k, v in os.environ.items() if not k.startswith("LIANXIN_")},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert db.exists(), order
        assert not env_db.exists()


def test_export_requests_csv_and_xlsx(run, tmp_path):
    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0
    chat = run(
        "chat", "--user", "amy", "--group", "g1", stdin="/诉求 小区路灯坏了\n"
    )  # an unbound group: the resident is told how to file instead
    assert chat.returncode == 0
    out = tmp_path / "r.csv"
    done = run(
        "export",
        "requests",
        "--org",
        "SQ001",
        "--from",
        "2026-01-01",
        "--to",
        "2030-12-31",
        "--format",
        "csv",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"0 requests → {out}"
    header = out.read_text("utf-8-sig").splitlines()[0]
    assert header.startswith("编号,")
    xlsx = tmp_path / "r.xlsx"
    assert (
        run(
            "export",
            "requests",
            "--org",
            "SQ001",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--out",
            str(xlsx),
        ).returncode
        == 0
    )
    assert xlsx.read_bytes()[:2] == b"PK"  # a zip: the xlsx container
    bad = run("export", "requests", "--org", "NOPE", "--from", "2026-01-01", "--to", "2026-01-02")
    assert bad.returncode == 2 and bad.stderr.startswith("export: ")


def test_export_members_masks_phones_unless_asked(run, tmp_path):
    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0
    register = "/登记\n张三\n13800001234\nZB001\n1\n否\n"
    assert run("chat", "--user", "zhang", stdin=register).returncode == 0
    assert run("chat", "--user", "secretary", stdin="/确认 1\n").returncode == 0
    masked, full = tmp_path / "m.csv", tmp_path / "f.csv"
    assert (
        run(
            "export", "members", "--org", "SQ001", "--format", "csv", "--out", str(masked)
        ).returncode
        == 0
    )
    assert (
        run(
            "export",
            "members",
            "--org",
            "SQ001",
            "--format",
            "csv",
            "--out",
            str(full),
            "--full-phone",
        ).returncode
        == 0
    )
    masked_text, full_text = masked.read_text("utf-8-sig"), full.read_text("utf-8-sig")
    assert "张三" in masked_text and "138****1234" in masked_text
    assert "13800001234" not in masked_text
    assert "13800001234" in full_text
    assert run("export", "requests", "--org", "SQ001").returncode == 2  # needs --from/--to
