"""党务工作台：/admin/ 下的网页，给党务工作者用，和聊天用同一套规则。

A sub-application mounted at /admin/ by bot/app.py when `[admin] enabled`:
aiohttp-jinja2 pages (templates/web/), an encrypted-cookie session
(aiohttp-session, key from `[admin] secret`), a guard that sends every page
without a live session to /admin/login and checks the CSRF token of every form.
One module per page group; the officer's scope and every action go through the
same model methods and chat commands as chat (bot/web/actions.py).
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.config import Config
from bot.memo import Memo
from bot.runtime import Runtime
from bot.web.common import CACHE, RUNTIME, guard, helpers

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "web"
STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "lianxin_admin"
# The platform's pages, one module each with its `routes`; the services' pages (the
# overview, queues, approvals, people, activities: handlers/workbench/) come from their
# routers (Router.pages).
PAGES = ("auth", "imports", "broadcasts", "ledgers", "audit")


def public_url(cfg: Config) -> str:
    """Where officers open the workbench: `[admin] public_url`, else this server."""
    if cfg.admin.public_url:
        return cfg.admin.public_url.rstrip("/")
    return f"http://{cfg.server.host}:{cfg.server.port}"


def create_admin_app(runtime: Runtime) -> web.Application:
    cfg = runtime.config.admin
    app = web.Application()
    app[RUNTIME] = runtime
    app[CACHE] = Memo(1000)
    # Fernet needs 32 bytes: the configured secret of any length, hashed to them.
    key = hashlib.sha256(cfg.secret.encode()).digest()
    setup_session(
        app,
        EncryptedCookieStorage(
            key,
            cookie_name=COOKIE,
            path="/admin",
            max_age=cfg.session_days * 86400,
            httponly=True,
            samesite="Lax",
            secure=public_url(runtime.config).startswith("https://"),
        ),
    )
    app.middlewares.append(guard)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(helpers())
    app.router.add_static("/static/", STATIC, name="static")
    for name in PAGES:
        app.add_routes(importlib.import_module(f"bot.web.{name}").routes)
    for routes in runtime.registry.pages:
        app.add_routes(routes)
    return app


def mount_admin(app: web.Application, runtime: Runtime) -> None:
    """/admin/ on the main app; /admin without the slash goes there."""

    async def to_admin(request: web.Request) -> web.Response:
        raise web.HTTPFound("/admin/")

    app.router.add_get("/admin", to_admin)
    app.add_subapp("/admin", create_admin_app(runtime))
