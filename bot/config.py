"""配置：TOML 文件 + 环境变量覆盖（LIANXIN_<SECTION>__<KEY>），启动时校验。

No file is needed: the defaults run the bot with SQLite under ./data and the
console channel on. Every key is documented in config.example.toml.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin

from bot.clock import DEFAULT_ZONE


class ConfigError(Exception):
    """One line naming the key and what is expected."""


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 65536
    shutdown_timeout: float = 10.0
    # A client that has not sent its whole request (headers and body) within this many
    # seconds is disconnected (slow or stalled clients hold a connection otherwise).
    client_timeout: float = 30.0
    # Forwarded requests (X-Forwarded-For / Forwarded) may use /console and /metrics.
    trust_forwarded: bool = False


@dataclass
class DatabaseConfig:
    # Relative paths are relative to the directory `lianxin` is started from.
    url: str = "sqlite://data/lianxin.sqlite3"
    # Events that arrive while the database cannot be written wait here (bot/journal.py).
    # "" = next to the SQLite file (<file>.inbox.jsonl), or data/inbox.jsonl for
    # PostgreSQL. Put it on another disk than the database to survive a full disk.
    journal_path: str = ""
    # How often the database is probed while it is down or events wait.
    journal_poll_seconds: float = 0.25


@dataclass
class WechatConfig:
    enabled: bool = False
    token: str = ""
    appid: str = ""
    secret: str = ""
    encoding_aes_key: str = ""
    mode: str = "plain"
    api_base: str = "https://api.weixin.qq.com"
    reply_budget_seconds: float = 4.5
    # Signed timestamps older (or newer) than this are replays.
    max_clock_skew_seconds: int = 300
    rate_per_minute: int = 0


@dataclass
class OnebotConfig:
    enabled: bool = False
    secret: str = ""
    access_token: str = ""
    api_url: str = ""
    rate_per_minute: int = 0
    # Messages whose `time` is older than this are replays, refused (0 = no check).
    max_event_age_seconds: int = 600


@dataclass
class WecomConfig:
    enabled: bool = False
    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base: str = "https://qyapi.weixin.qq.com"
    # Group robot webhooks (send-only): name → key, targets "wecom-robot:<name>".
    robot_keys: dict[str, str] = field(default_factory=dict)
    rate_per_minute: int = 0


@dataclass
class Onebot12Config:
    """OneBot 12 implementations (personal-WeChat bridges such as ComWeChatBotClient)."""

    enabled: bool = False
    # Checked on every event the implementation posts (Bearer header or ?access_token=).
    access_token: str = ""
    # The implementation's HTTP action endpoint (send_message), and the token it asks for.
    api_url: str = ""
    api_access_token: str = ""
    # Events older than this (by their own "time") are refused: a replay, or a backlog.
    stale_seconds: int = 300
    # Opt-in: answer the webhook 200 with the send_message actions instead of calling
    # api_url (some bridges, ComWeChatBotClient among them, ignore the response body).
    reply_in_response: bool = False


@dataclass
class WecomBotConfig:
    """WeCom smart robot (企业微信智能机器人) in API mode."""

    enabled: bool = False
    token: str = ""
    encoding_aes_key: str = ""
    # The robot's id (aibotid in every callback): callbacks for another robot are refused.
    bot_id: str = ""


@dataclass
class QQConfig:
    enabled: bool = False
    appid: str = ""
    secret: str = ""
    api_base: str = "https://api.sgroup.qq.com"
    token_url: str = "https://bots.qq.com/app/getAppAccessToken"
    rate_per_minute: int = 0


@dataclass
class BroadcastsConfig:
    """定时推送: quiet hours (local time), grace for missed fire times, leader election."""

    quiet_start: str = "22:00"
    quiet_end: str = "07:00"
    # A fire time missed while the service was down is still sent within this many minutes.
    grace_minutes: int = 60
    # How often the leader looks for due broadcasts made by other processes; its own are
    # timed exactly. 0 turns every timer off (tests drive tick() with a ManualClock).
    tick_seconds: float = 15.0
    # How often each process campaigns for leadership (0 = never: tests drive it).
    leader_poll_seconds: float = 10.0
    # Deliveries handed to the senders at once.
    fanout_concurrency: int = 64
    topics: list[str] = field(default_factory=lambda: ["每日党课", "活动通知", "政策解读"])
    # Markdown files, "# 标题" on the first line; one a day, in file-name order.
    lessons_dir: str = "content/lessons"
    # Officers' templates render in a child process within these limits (else refused).
    render_timeout_seconds: float = 2.0
    render_max_chars: int = 20000
    render_memory_mb: int = 256


@dataclass
class AdminConfig:
    """党务工作台 (/admin/): the officers' web pages, served by `lianxin serve`."""

    enabled: bool = False
    # Encrypts the session cookie; the same in every process. Required when enabled.
    secret: str = ""
    # Where officers open the pages (the /登录 link); default http://HOST:PORT.
    public_url: str = ""
    session_days: int = 7


@dataclass
class ConsoleConfig:
    # None = on only when the server binds to loopback.
    enabled: bool | None = None


@dataclass
class DedupConfig:
    """重试去重：each inbound event's key is kept this long (bot/housekeeping.py prunes
    older ones). Platforms retry within minutes; 0 keeps every key forever."""

    keep_days: int = 14


@dataclass
class BotConfig:
    timezone: str = DEFAULT_ZONE
    admins: list[str] = field(default_factory=list)
    dialog_timeout_minutes: int = 10
    # A reply longer than this many characters goes out a page at a time ("回复 更多");
    # about one phone screen. 0 sends every reply whole.
    page_chars: int = 300
    templates_dir: str = ""
    # Identity cache lifetime; other processes' role changes show up within it.
    identity_cache_seconds: float = 30.0
    # Officers' views (reports) run this many at a time per process, so that members'
    # messages are answered between them (bot/lanes.py); 0: no limit.
    report_concurrency: int = 1
    # Modules whose services run here (bot/services.py): each gives SERVICES, a service
    # or a router; a service may declare its own config section (Router.section).
    services: list[str] = field(default_factory=lambda: ["handlers"])


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    wechat: WechatConfig = field(default_factory=WechatConfig)
    onebot: OnebotConfig = field(default_factory=OnebotConfig)
    wecom: WecomConfig = field(default_factory=WecomConfig)
    qq: QQConfig = field(default_factory=QQConfig)
    onebot12: Onebot12Config = field(default_factory=Onebot12Config)
    wecom_bot: WecomBotConfig = field(default_factory=WecomBotConfig)
    broadcasts: BroadcastsConfig = field(default_factory=BroadcastsConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    bot: BotConfig = field(default_factory=BotConfig)
    # Sections the services declare ([requests], [activities], …), by name.
    service_sections: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        """A service's section (``config.requests``); its defaults when not loaded."""
        if name.startswith("_") or "service_sections" not in self.__dict__:
            raise AttributeError(name)
        if name not in self.service_sections:
            declared = service_section_types(self.bot.services)
            if name not in declared:
                raise AttributeError(f"no config section {name!r}")
            self.service_sections[name] = declared[name]()
        return self.service_sections[name]

    @property
    def console_enabled(self) -> bool:
        if self.console.enabled is None:
            return self.server.host in ("127.0.0.1", "localhost", "::1")
        return self.console.enabled


SECTIONS = {f.name: f for f in fields(Config) if f.name != "service_sections"}


def service_section_types(services: list[str]) -> dict[str, type]:
    """[section] → settings dataclass, as the services named in [bot] services declare."""
    from bot.services import load_routers

    types: dict[str, type] = {}
    for router in load_routers(services):
        for name, settings in router.sections.items():
            if types.setdefault(name, settings) is not settings:
                raise ConfigError(f"[{name}]: declared by two services")
            if name in SECTIONS:
                raise ConfigError(f"[{name}]: a service cannot redefine bot's own section")
    return types


def _coerce(key: str, value: Any, typ: Any) -> Any:
    """Turn a TOML or environment value into the declared type, or say what is expected."""
    origin = get_origin(typ)
    if origin is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{key}: expected a table of strings, got {value!r}") from exc
        value_type = get_args(typ)[1]
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return {k: _coerce(f"{key}.{k}", v, value_type) for k, v in value.items()}
    if origin is list:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip().startswith("[") else value.split(",")
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{key}: expected a list of strings, got {value!r}") from exc
            value = [v.strip() for v in value if str(v).strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return value
    if typ == "bool | None" or (get_args(typ) and bool in get_args(typ)):
        typ = bool
    if typ in (bool, "bool"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if typ in (int, "int"):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key}: expected a whole number, got {value!r}") from exc
    if typ in (float, "float"):
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from exc
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _section_types(section_cls: type) -> dict[str, Any]:
    import typing

    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in fields(section_cls)}


def validate(cfg: Config) -> None:
    """The platform's own sections checked together (bot/config_check.py)."""
    from bot.config_check import check_platform

    check_platform(cfg)


def _fill(obj: Any, section: str, values: Any) -> None:
    """Set a section's keys from the TOML table or environment, each coerced to its type."""
    if not isinstance(values, dict):
        raise ConfigError(f"{section}: expected a table")
    types = _section_types(type(obj))
    for key, value in values.items():
        if key not in types:
            raise ConfigError(f"{section}.{key}: unknown key (known: {', '.join(types)})")
        setattr(obj, key, _coerce(f"{section}.{key}", value, types[key]))


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Read the TOML file (optional), apply LIANXIN_* overrides, validate."""
    env = os.environ if env is None else env
    assert env is not None
    raw: dict[str, dict[str, Any]] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--config: file {str(p)!r} does not exist")
        try:
            raw = tomllib.loads(p.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config: {p} is not valid TOML ({exc})") from exc
    for name, value in env.items():
        if not name.startswith("LIANXIN_") or "__" not in name:
            continue
        section, _, key = name[len("LIANXIN_") :].lower().partition("__")
        raw.setdefault(section, {})[key] = value

    cfg = Config()
    if "bot" in raw:  # first: [bot] services names the services and so their sections
        _fill(cfg.bot, "bot", raw["bot"])
    try:
        declared = service_section_types(cfg.bot.services)
    except ImportError as exc:  # bot.services.ServiceLoadError
        raise ConfigError(str(exc)) from exc
    cfg.service_sections = {name: settings() for name, settings in declared.items()}
    known = [*SECTIONS, *declared]
    for section, values in raw.items():
        if section not in known:
            raise ConfigError(f"[{section}]: unknown section (known: {', '.join(known)})")
        if section != "bot":
            _fill(getattr(cfg, section), section, values)
    validate(cfg)  # bot/config_check.py: the platform's sections
    for settings in cfg.service_sections.values():
        check = getattr(settings, "validate", None)
        if check is not None:
            check()
    if env.get("LIANXIN_NOW", "").strip():  # bot/clock.py reads it; checked here, once
        from bot.clock import parse_now

        try:
            parse_now(env["LIANXIN_NOW"], cfg.bot.timezone)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return cfg
