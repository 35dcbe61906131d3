"""配置的校验：bot 自己的各节（服务器、数据库、渠道、广播、工作台）。每个服务的节由它的
设置类自己校验（`validate()`，bot/config.py 调用）。"""

from __future__ import annotations

import base64
import binascii
import re
import zoneinfo
from typing import TYPE_CHECKING

from bot.config import ConfigError

if TYPE_CHECKING:
    from bot.config import Config


def is_aes_key(value: str) -> bool:
    """A 43-character EncodingAESKey that decodes to the 32-byte AES key."""
    if len(value) != 43:
        return False
    try:
        return len(base64.b64decode(value + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def check_platform(cfg: Config) -> None:
    """Each key of bot's own sections within its range; a channel's secrets when it is on."""
    s = cfg.server
    if not 0 < s.port < 65536:
        raise ConfigError(f"server.port: expected 1-65535, got {s.port}")
    if s.max_body_bytes < 1024:
        raise ConfigError(f"server.max_body_bytes: expected at least 1024, got {s.max_body_bytes}")
    url = cfg.database.url
    if not url.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
        raise ConfigError(
            f"database.url: expected sqlite://PATH or postgres://USER:PASS@HOST/DB, got {url!r}"
        )
    try:
        zoneinfo.ZoneInfo(cfg.bot.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"bot.timezone: expected an IANA zone like Asia/Shanghai, got {cfg.bot.timezone!r}"
        ) from exc
    for admin in cfg.bot.admins:
        if ":" not in admin or not admin.split(":", 1)[1]:
            raise ConfigError(f"bot.admins: expected entries like 'wechat:OPENID', got {admin!r}")
    if cfg.bot.dialog_timeout_minutes < 1:
        raise ConfigError("bot.dialog_timeout_minutes: expected at least 1")
    w = cfg.wechat
    if w.mode not in ("plain", "compat", "safe"):
        raise ConfigError(f"wechat.mode: expected plain, compat or safe, got {w.mode!r}")
    if w.enabled:
        if not w.token:
            raise ConfigError("wechat.token: required when wechat.enabled (the 令牌 Token)")
        if w.mode != "plain":
            if not is_aes_key(w.encoding_aes_key):
                raise ConfigError(
                    "wechat.encoding_aes_key: expected the 43-character EncodingAESKey "
                    f"for mode {w.mode!r}"
                )
            if not w.appid:
                raise ConfigError(f"wechat.appid: required for mode {w.mode!r}")
        if w.secret and not w.appid:
            raise ConfigError("wechat.appid: required when wechat.secret is set")
        if not 0.5 <= w.reply_budget_seconds <= 4.9:
            raise ConfigError(
                "wechat.reply_budget_seconds: expected 0.5-4.9 (WeChat waits 5 s), "
                f"got {w.reply_budget_seconds}"
            )
    b = cfg.broadcasts
    for key in ("quiet_start", "quiet_end"):
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", getattr(b, key)):
            raise ConfigError(f"broadcasts.{key}: expected HH:MM, got {getattr(b, key)!r}")
    if b.grace_minutes < 0:
        raise ConfigError("broadcasts.grace_minutes: expected 0 or more")
    if b.fanout_concurrency < 1:
        raise ConfigError("broadcasts.fanout_concurrency: expected at least 1")
    if b.render_timeout_seconds <= 0 or b.render_max_chars < 100 or b.render_memory_mb < 64:
        raise ConfigError(
            "broadcasts.render_*: expected timeout > 0, max_chars >= 100, memory_mb >= 64"
        )
    if b.tick_seconds < 0 or b.leader_poll_seconds < 0:
        raise ConfigError("broadcasts.tick_seconds/leader_poll_seconds: expected 0 or more")
    if cfg.onebot.max_event_age_seconds < 0:
        raise ConfigError("onebot.max_event_age_seconds: expected 0 (no check) or more")
    if s.client_timeout <= 0:
        raise ConfigError("server.client_timeout: expected a positive number of seconds")
    if cfg.database.journal_poll_seconds <= 0:
        raise ConfigError("database.journal_poll_seconds: expected a positive number")
    if cfg.dedup.keep_days < 0:
        raise ConfigError(
            f"dedup.keep_days: expected 0 (keep every key) or more days, got {cfg.dedup.keep_days}"
        )
    ad = cfg.admin
    if ad.enabled and len(ad.secret) < 16:
        raise ConfigError(
            "admin.secret: required when admin.enabled (at least 16 characters, the same in "
            "every process; it encrypts the workbench's session cookie)"
        )
    if ad.public_url and not ad.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"admin.public_url: expected an http(s) URL, got {ad.public_url!r}")
    if not 1 <= ad.session_days <= 90:
        raise ConfigError(f"admin.session_days: expected 1-90, got {ad.session_days}")
    o = cfg.onebot
    if o.enabled and not o.secret:
        raise ConfigError(
            "onebot.secret: required when onebot.enabled (the same secret as in the OneBot "
            "implementation's HTTP POST settings; it signs every event)"
        )
    c = cfg.wecom
    if c.enabled:
        for name in ("corp_id", "secret", "token"):
            if not getattr(c, name):
                raise ConfigError(f"wecom.{name}: required when wecom.enabled")
        if not is_aes_key(c.encoding_aes_key):
            raise ConfigError("wecom.encoding_aes_key: expected the 43-character EncodingAESKey")
        if c.agent_id <= 0:
            raise ConfigError("wecom.agent_id: expected the app's AgentId (a positive number)")
    q = cfg.qq
    if q.enabled and (not q.appid or not q.secret):
        missing = "appid" if not q.appid else "secret"
        raise ConfigError(f"qq.{missing}: required when qq.enabled (q.qq.com → 开发设置)")
    if o.enabled and o.api_url and not o.api_url.startswith(("http://", "https://")):
        raise ConfigError(f"onebot.api_url: expected an http(s) URL, got {o.api_url!r}")
    v12 = cfg.onebot12
    if v12.enabled:
        if v12.api_url and not v12.api_url.startswith(("http://", "https://")):
            raise ConfigError(f"onebot12.api_url: expected an http(s) URL, got {v12.api_url!r}")
        if not v12.api_url and not v12.reply_in_response:
            raise ConfigError(
                "onebot12.api_url: required when onebot12.enabled (the implementation's HTTP "
                "action address), unless onebot12.reply_in_response = true"
            )
        if v12.stale_seconds < 1:
            raise ConfigError("onebot12.stale_seconds: expected at least 1")
    wb = cfg.wecom_bot
    if wb.enabled:
        if not wb.token:
            raise ConfigError("wecom_bot.token: required when wecom_bot.enabled (its Token)")
        if not is_aes_key(wb.encoding_aes_key):
            raise ConfigError(
                "wecom_bot.encoding_aes_key: expected the robot's 43-character EncodingAESKey"
            )
