"""运行时：一个进程里共享的服务（配置、模板、身份、去重、对话、指标、发送器）。"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.clock import Clock, clock_from_env, set_zone
from bot.config import Config
from bot.db import close_db, init_db
from bot.dedup import DedupGate
from bot.dialogs import Dialogs
from bot.identity import IdentityService
from bot.lanes import ReportLane
from bot.metrics import Metrics
from bot.refusals import Refusals
from bot.registry import Registry
from bot.senders.base import Sender
from bot.senders.tokens import TokenCache
from bot.services import load_routers
from bot.templates import Templates

if TYPE_CHECKING:
    from bot.broadcaster import Broadcaster
    from bot.community import Communities
    from bot.dispatcher import Dispatcher
    from bot.intake import Intake
    from bot.journal import Journal
    from bot.outbound import Outbound
    from bot.seen import SeenToday
    from models.errors import DomainError

log = logging.getLogger("lianxin.runtime")

# platform → "module:function(section_config, http_session, token_cache) -> Sender | None";
# the config section is the platform's name with "-" as "_" ([wecom_bot] for wecom-bot).
SENDER_BUILDERS = {
    "console": "bot.senders.console:build",
    "wechat": "bot.senders.wechat:build",
    "onebot": "bot.senders.onebot:build",
    "wecom": "bot.senders.wecom:build",
    "qq": "bot.senders.qq:build",
    "onebot12": "bot.senders.onebot12:build",
    "wecom-bot": "bot.senders.wecom_bot:build",
}


@dataclass
class Runtime:
    config: Config
    templates: Templates
    identity: IdentityService
    dialogs: Dialogs
    dedup: DedupGate
    metrics: Metrics
    registry: Registry
    refusals: Refusals
    senders: dict[str, Sender] = field(default_factory=dict)
    http: aiohttp.ClientSession | None = None
    # Set by start(): the one way out (every push a Delivery row), and the broadcaster.
    outbound: Outbound | None = None
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    clock: Clock = field(default_factory=Clock)
    broadcaster: Broadcaster | None = None
    # Events kept while the database is down (set by `lianxin serve`'s app).
    journal: Journal | None = None
    # Set by build(): they need the runtime (its clock) themselves.
    dispatcher: Dispatcher = field(init=False)
    seen: SeenToday = field(init=False)  # any message is contact (失联排查)
    communities: Communities = field(init=False)  # who lives where
    intake: Intake = field(init=False)  # groups' 自动受理 switches
    reports: ReportLane = field(init=False)  # officers' views, a few at a time
    _shutdown_by: float | None = field(default=None, init=False)  # loop time; shutdown_left()

    @classmethod
    def build(cls, config: Config) -> Runtime:
        from bot.dispatcher import Dispatcher

        set_zone(config.bot.timezone)  # one zone for reading and showing times
        templates = Templates(config.bot.templates_dir or None)
        from bot import housekeeping  # the platform's own jobs, after the services'

        registry = Registry([*load_routers(config.bot.services), housekeeping.router])
        rt = cls(
            config=config,
            templates=templates,
            identity=IdentityService(config.bot.identity_cache_seconds),
            # Whatever clock the runtime has when asked (tests set a manual one).
            dialogs=Dialogs(lambda: rt.clock.now(), config.bot.dialog_timeout_minutes),
            dedup=DedupGate(),
            metrics=Metrics(),
            registry=registry,
            refusals=Refusals(templates, registry.refusals),
            clock=clock_from_env(tz=config.bot.timezone),
        )
        rt.dispatcher = Dispatcher(rt)
        from bot.seen import SeenToday

        rt.seen = SeenToday(
            lambda: rt.clock.now(),
            config.bot.timezone,
            rt.registry.provided("record_contact"),
        )
        from bot.community import Communities

        rt.communities = Communities(lambda: rt.clock.now())
        from bot.intake import Intake

        rt.intake = Intake()
        rt.reports = ReportLane(config.bot.report_concurrency)
        return rt

    async def start(self, *, database: bool = True) -> None:
        if database:
            await init_db(self.config.database.url)
        await self.identity.bootstrap_admins(self.config.bot.admins)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._start_senders()
        from bot.outbound import Outbound

        self.outbound = Outbound(self.senders, self.metrics, now=lambda: self.clock.now())
        from bot.broadcaster import Broadcaster

        self.broadcaster = Broadcaster(self)

    def _start_senders(self) -> None:
        """One sender per enabled platform; each module's `build` says if it can send."""
        assert self.http is not None
        tokens = TokenCache()
        for platform, ref in SENDER_BUILDERS.items():
            section = getattr(self.config, platform.replace("-", "_"))
            module_name, _, func = ref.partition(":")
            enabled = self.config.console_enabled if platform == "console" else section.enabled
            if not enabled or importlib.util.find_spec(module_name) is None:
                continue
            sender = getattr(importlib.import_module(module_name), func)(section, self.http, tokens)
            if sender is not None:
                self.senders[platform] = sender

    def refusal(self, err: DomainError, service: str = "") -> str:
        """The sentence explaining a refusal, in the words of `service` first."""
        return self.refusals.text(err.code, err.details, service)

    def spawn(self, coro: Awaitable[Any], name: str = "") -> None:
        """Run work after the reply (notices after a commit), tracked so shutdown waits."""
        task = asyncio.create_task(self._guarded(coro, name))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    @staticmethod
    async def _guarded(coro: Awaitable[Any], name: str) -> None:
        try:
            await coro
        except Exception:
            log.exception("background work %s failed", name)

    async def settle(self, timeout: float = 10.0) -> bool:
        """Wait for background work (including work it starts); False if some is left."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.background:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait(list(self.background), timeout=left)
        return True

    def shutdown_left(self) -> float:
        """Seconds left of the one shutdown budget (server.shutdown_timeout), which starts
        at the first call: each step waits only for what is left, so a locked database
        cannot make the steps' own timeouts add up past what the operator configured."""
        now = asyncio.get_running_loop().time()
        if self._shutdown_by is None:
            self._shutdown_by = now + self.config.server.shutdown_timeout
        return max(0.0, self._shutdown_by - now)

    async def stop(self, *, database: bool = True) -> None:
        if self.broadcaster is not None:
            await self.broadcaster.stop(self.shutdown_left())
        if not await self.settle(self.shutdown_left()):
            log.warning("stopping with %d background tasks unfinished", len(self.background))
        await self.dedup.close(self.shutdown_left())
        for sender in self.senders.values():
            await sender.close()
        if self.http is not None:
            await self.http.close()
        if database:
            await close_db()
