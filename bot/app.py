"""aiohttp 应用：各渠道的路由、/healthz、/metrics、请求体大小限制、优雅关闭。"""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path

from aiohttp import web

from bot.channels.base import Channel
from bot.config import Config
from bot.db import sqlite_path
from bot.dbhealth import DbHealth
from bot.guards import make_guard
from bot.journal import Journal
from bot.runtime import Runtime
from bot.scheduler import make_scheduler

log = logging.getLogger("lianxin.app")

RUNTIME = web.AppKey("runtime", Runtime)
CHANNELS = web.AppKey("channels", list)
SCHEDULER = web.AppKey("scheduler", object)

# name → "module:Class"; imported only when the platform is enabled.
CHANNEL_CLASSES = {
    "console": "bot.channels.console:ConsoleChannel",
    "wechat": "bot.channels.wechat:WechatChannel",
    "onebot": "bot.channels.onebot:OnebotChannel",
    "wecom": "bot.channels.wecom:WecomChannel",
    "qq": "bot.channels.qq:QQChannel",
    "onebot12": "bot.channels.onebot12:Onebot12Channel",
    "wecom-bot": "bot.channels.wecom_bot:WecomBotChannel",
}


def enabled_channels(config: Config) -> list[str]:
    names = []
    if config.console_enabled:
        names.append("console")
    if config.wechat.enabled:
        names.append("wechat")
    for name in ("onebot", "wecom", "qq", "onebot12", "wecom-bot"):
        if getattr(config, name.replace("-", "_")).enabled:
            names.append(name)
    return names


def journal_path(config: Config) -> Path:
    """Where events wait while the database is down (config: database.journal_path)."""
    if config.database.journal_path:
        return Path(config.database.journal_path)
    db_file = sqlite_path(config.database.url)
    if db_file is not None:
        return db_file.with_name(db_file.name + ".inbox.jsonl")
    return Path("data/inbox.jsonl")


def load_channel(name: str, runtime: Runtime) -> Channel:
    module, _, cls = CHANNEL_CLASSES[name].partition(":")
    channel: Channel = getattr(importlib.import_module(module), cls)(runtime)
    return channel


def create_app(config: Config, *, manage_database: bool = True) -> web.Application:
    """Build the app. With manage_database=False the caller has opened the database."""
    runtime = Runtime.build(config)
    limits: dict[str, int] = {}
    if config.admin.enabled:  # the workbench's imports are bigger than any webhook
        from bot.web.common import UPLOAD_MAX

        limits["/admin"] = UPLOAD_MAX
    s = config.server
    channels = [load_channel(n, runtime) for n in enabled_channels(config)]
    by_path = {ch.path: ch.name for ch in channels}

    def count(path: str, reason: str) -> None:
        runtime.metrics.rejected.labels(by_path.get(path, "http"), reason).inc()

    guard = make_guard(s.max_body_bytes, limits, s.client_timeout, s.trust_forwarded, count)
    app = web.Application(client_max_size=s.max_body_bytes, middlewares=[guard])
    app[RUNTIME] = runtime
    app[CHANNELS] = channels
    for ch in channels:
        app.add_routes(ch.routes())

    health = DbHealth(config.database.url)
    journal_task: list[asyncio.Task[None]] = []

    async def healthz(request: web.Request) -> web.Response:
        # A real write; while known to be down, the journal's watcher probes for us.
        ok = health.usable() and await health.probe()
        return web.json_response(
            {
                "status": "ok" if ok else "unavailable",
                "database": ok,
                "channels": [c.name for c in channels],
                # This process fires the schedules (one per database; bot/leader.py).
                "leader": bool(runtime.broadcaster and runtime.broadcaster.is_leader),
                # Events kept while the database was down, not replayed yet.
                "waiting": runtime.journal.waiting if runtime.journal else 0,
                # What a channel knows of its platform's side (OneBot 12 bridges online).
                **{k: v for c in channels for k, v in c.health().items()},
            },
            status=200 if ok else 503,
        )

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=runtime.metrics.render(), headers={"Content-Type": runtime.metrics.content_type}
        )

    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics)])
    if config.admin.enabled:  # 党务工作台 (bot/web/)
        from bot.web import mount_admin

        mount_admin(app, runtime)

    scheduler = make_scheduler(config.bot.timezone)
    app[SCHEDULER] = scheduler

    async def on_startup(app: web.Application) -> None:
        await runtime.start(database=manage_database)
        health.remember_file()
        runtime.journal = Journal(
            journal_path(config), health, config.database.journal_poll_seconds
        )
        journal_task.append(asyncio.create_task(runtime.journal.run(runtime)))
        for ch in channels:
            await ch.startup()
        # Service jobs and officers' broadcasts: rows in the database, fired by the leader.
        assert runtime.broadcaster is not None  # runtime.start() made it
        await runtime.broadcaster.start(scheduler)
        scheduler.start()

    async def on_shutdown(app: web.Application) -> None:
        for task in journal_task:
            task.cancel()
        # Let a fan-out in progress reach a clean point before the timers go.
        if runtime.broadcaster is not None:
            await runtime.broadcaster.stop(runtime.shutdown_left())
        scheduler.shutdown(wait=False)
        for ch in channels:
            await ch.shutdown()

    async def on_cleanup(app: web.Application) -> None:
        await runtime.stop(database=manage_database)

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
