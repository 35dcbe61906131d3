"""Configuration: defaults with no file, TOML, environment overrides, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import ConfigError, load_config


def test_defaults_need_no_file():
    cfg = load_config(None, env={})
    assert cfg.database.url == "sqlite://data/lianxin.sqlite3"
    assert cfg.server.host == "127.0.0.1" and cfg.server.port == 8080
    assert cfg.console_enabled is True
    assert cfg.wechat.enabled is False and cfg.onebot.enabled is False
    assert cfg.bot.timezone == "Asia/Shanghai"
    assert cfg.dedup.keep_days == 14


def test_example_file_is_valid():
    cfg = load_config("config.example.toml", env={})
    assert cfg.wechat.mode == "plain"


def test_console_off_by_default_when_not_loopback():
    cfg = load_config(None, env={"LIANXIN_SERVER__HOST": "0.0.0.0"})
    assert cfg.console_enabled is False
    cfg = load_config(
        None, env={"LIANXIN_SERVER__HOST": "0.0.0.0", "LIANXIN_CONSOLE__ENABLED": "true"}
    )
    assert cfg.console_enabled is True


def test_env_overrides_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 9000\n[bot]\nadmins = ["wechat:o1"]\n', "utf-8")
    cfg = load_config(path, env={"LIANXIN_SERVER__PORT": "9100", "LIANXIN_BOT__ADMINS": "a:1,b:2"})
    assert cfg.server.port == 9100
    assert cfg.bot.admins == ["a:1", "b:2"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIANXIN_SERVER__PORT": "eighty"}, "server.port: expected a whole number, got 'eighty'"),
        ({"LIANXIN_SERVER__PORT": "70000"}, "server.port: expected 1-65535, got 70000"),
        ({"LIANXIN_WECHAT__ENABLED": "true"}, "wechat.token: required when wechat.enabled"),
        (
            {
                "LIANXIN_WECHAT__ENABLED": "yes",
                "LIANXIN_WECHAT__TOKEN": "t",
                "LIANXIN_WECHAT__MODE": "safe",
                "LIANXIN_WECHAT__APPID": "wx1",
            },
            "wechat.encoding_aes_key: expected the 43-character EncodingAESKey",
        ),
        ({"LIANXIN_WECHAT__MODE": "aes"}, "wechat.mode: expected plain, compat or safe"),
        ({"LIANXIN_ONEBOT__ENABLED": "true"}, "onebot.secret: required when onebot.enabled"),
        (
            {"LIANXIN_DATABASE__URL": "mysql://x"},
            "database.url: expected sqlite://PATH or postgres",
        ),
        ({"LIANXIN_BOT__TIMEZONE": "Mars/Base"}, "bot.timezone: expected an IANA zone"),
        ({"LIANXIN_BOT__ADMINS": "nobody"}, "bot.admins: expected entries like 'wechat:OPENID'"),
        ({"LIANXIN_SERVER__PROT": "1"}, "server.prot: unknown key"),
        ({"LIANXIN_DEDUP__KEEP_DAYS": "-1"}, "dedup.keep_days: expected 0 (keep every key) or"),
        ({"LIANXIN_SEVER__PORT": "1"}, "[sever]: unknown section"),
        ({"LIANXIN_WECHAT__ENABLED": "maybe"}, "wechat.enabled: expected true or false"),
        ({"LIANXIN_ACTIVITIES__REMINDER_LEAD": "2"}, "activities.reminder_lead: unknown key"),
        ({"LIANXIN_ACTIVITIES__PAGE_SIZE": "0"}, "activities.page_size: expected 1-50"),
        (
            {"LIANXIN_ACTIVITIES__CODE_LOCK_ATTEMPTS": "0"},
            "activities.code_lock_attempts: expected at least 1",
        ),
        (
            {"LIANXIN_ACTIVITIES__REMINDER_LEAD_HOURS": "0"},
            "activities.reminder_lead_hours: expected a positive number",
        ),
    ],
)
def test_bad_values_name_the_key(env, message):
    with pytest.raises(ConfigError) as exc:
        load_config(None, env=env)
    assert str(exc.value).startswith(message)


def test_activities_section():
    cfg = load_config(None, env={})
    a = cfg.activities
    assert (a.reminder_lead_hours, a.reminder_interval_minutes) == (2.0, 5)
    assert (a.code_lock_attempts, a.code_lock_minutes, a.code_open_minutes) == (5, 10, 30)
    assert a.page_size == 10
    cfg = load_config(
        None,
        env={
            "LIANXIN_ACTIVITIES__REMINDER_LEAD_HOURS": "1.5",
            "LIANXIN_ACTIVITIES__POINTS_LESSON": "2",
        },
    )
    assert cfg.activities.reminder_lead_hours == 1.5 and cfg.activities.points_lesson == 2
    with pytest.raises(ConfigError, match="unknown section"):
        load_config(None, env={"LIANXIN_ACTIVITY__PAGE_SIZE": "1"})


def test_broadcasts_section():
    b = load_config(None, env={}).broadcasts
    assert (b.quiet_start, b.quiet_end, b.grace_minutes) == ("22:00", "07:00", 60)
    assert b.topics == ["每日党课", "活动通知", "政策解读"]
    with pytest.raises(ConfigError, match=r"broadcasts\.quiet_end: expected HH:MM"):
        load_config(None, env={"LIANXIN_BROADCASTS__QUIET_END": "7点"})
    with pytest.raises(ConfigError, match=r"broadcasts\.anything: unknown key"):
        load_config(None, env={"LIANXIN_BROADCASTS__ANYTHING": "1"})


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport=1", "utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad, env={})


def test_cli_stops_with_one_line(tmp_path):
    env = {"LIANXIN_SERVER__PORT": "eighty", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["配置错误 / config error: server.port: expected a whole number, got 'eighty'"]
