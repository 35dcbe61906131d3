"""工作台的公共部分：谁在看（会话 → 党务工作者）、CSRF、页面渲染、分页、时间与电话的显示。"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from bot.clock import local
from bot.db import page_rows
from bot.identity import Caller
from bot.memo import Memo
from bot.registry import OFFICER
from bot.runtime import Runtime
from bot.text import mask_phones
from models.web import WebSession

M = TypeVar("M", bound=Model)
T = TypeVar("T")
RUNTIME = web.AppKey("admin_runtime", Runtime)
# Figures kept for a few minutes (kept()).
CACHE = web.AppKey("admin_cache", Memo)
# Pages anyone may open: the login pages and the static files.
PUBLIC = {"login", "login_wait", "static"}
# Forms may carry a roster file (the app's own body limit is for webhooks).
UPLOAD_MAX = 5 * 1024 * 1024
PAGE_SIZE = 20


@dataclass
class Officer:
    """The person behind a live session, as chat knows them (roles, scope)."""

    session: WebSession
    caller: Caller

    @property
    def person_id(self) -> int:
        return self.session.person_id

    @property
    def paths(self) -> list[str]:
        return self.caller.scope_paths()


OFFICER_KEY = web.RequestKey("lianxin.officer", Officer)  # typed: aiohttp warns on str keys


def runtime_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def officer_of(request: web.Request) -> Officer:
    return request[OFFICER_KEY]


def address(request: web.Request) -> str:
    return request.remote or ""


def device(request: web.Request) -> str:
    return request.headers.get("User-Agent", "")[:200]


async def load_officer(request: web.Request) -> Officer | None:
    """The session's officer, or None (no session, revoked, expired, or no longer an officer)."""
    session = await get_session(request)
    sid = session.get("sid")
    if not isinstance(sid, str):
        return None
    row = await WebSession.live(sid, now=runtime_of(request).clock.now())
    if row is None:
        return None
    platform, _, user_id = row.user_key.partition(":")
    caller = await runtime_of(request).identity.resolve(platform, user_id)
    # The same permission check as an officer command in a private chat.
    if caller.person_id != row.person_id or not OFFICER.check(caller, None):
        return None
    await row.touch(address(request), now=runtime_of(request).clock.now())
    return Officer(row, caller)


async def kept(
    request: web.Request, key: tuple[Any, ...], seconds: int, compute: Callable[[], Awaitable[T]]
) -> tuple[T, datetime]:
    """compute()'s value, worked out at most once every `seconds` in this process (on the
    runtime's clock), and when it was worked out (pages say 数据截至 HH:MM)."""
    store = request.app[CACHE]
    now = runtime_of(request).clock.now()
    hit = store.get(key, now, timedelta(seconds=seconds))
    if hit is not None:
        value: T = hit[0]
        return value, hit[1]
    value = await compute()
    store.put(key, value, now)
    return value, now


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


async def check_csrf(request: web.Request) -> None:
    """Every form carries the session's token; a POST without it is refused (403)."""
    session = await get_session(request)
    expected = session.get("csrf")
    form = await request.post()
    given = form.get("_csrf")
    if not (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise web.HTTPForbidden(
            text="表单已失效（CSRF 校验未通过），请刷新页面后重试。",
            content_type="text/plain",
        )


@web.middleware
async def guard(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """No session → /admin/login; every POST → the CSRF check; security headers."""
    resource = request.match_info.route.resource
    name = resource.name if resource is not None else None
    officer: Officer | None = None
    if name not in PUBLIC:
        officer = await load_officer(request)
        if officer is None:
            raise web.HTTPFound("/admin/login")
    if request.method == "POST":
        # Loaded on the original request first: the session middleware saves that one.
        await get_session(request)
        request = request.clone(client_max_size=UPLOAD_MAX)
        await check_csrf(request)
    if officer is not None:
        request[OFFICER_KEY] = officer
    if request.method == "GET" and name not in PUBLIC:
        # A page is a report: after the members' messages in hand (bot/lanes.py).
        async with runtime_of(request).reports.page():
            response = await handler(request)
    else:
        response = await handler(request)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if name != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def flash(request: web.Request, text: str) -> None:
    """A line shown once on the next page (the chat reply to a web action)."""
    session = await get_session(request)
    session["flash"] = text


async def page(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    session = await get_session(request)
    rt = runtime_of(request)
    context.update(
        request=request,
        csrf=await csrf_token(request),
        officer=request.get(OFFICER_KEY),
        path=request.path,
        flash=session.pop("flash", ""),
        labels=rt.templates.commands.get("request_labels", {}),
        checkin_labels=rt.templates.commands.get("checkin_labels", {}),
    )
    return aiohttp_jinja2.render_template(template, request, context, status=status)


@dataclass
class Pager:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.size), 1)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


async def paged(query: QuerySet[M], p: Pager, order: tuple[str, ...], *related: str) -> list[M]:
    """One page of `query` in `order` (bot.db.page_rows)."""
    return await page_rows(query, order, p.offset, p.size, *related)


def pager(request: web.Request, total: int, size: int = PAGE_SIZE) -> Pager:
    raw = request.query.get("page", "1")
    number = int(raw) if raw.isdigit() else 1
    p = Pager(max(number, 1), size, total)
    p.page = min(p.page, p.pages)
    return p


def with_query(request: web.Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (filters, paging)."""
    query = {k: v for k, v in request.query.items()}
    for k, v in changes.items():
        if v in (None, ""):
            query.pop(k, None)
        else:
            query[k] = str(v)
    return f"{request.path}?{urlencode(query)}" if query else request.path


def when(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return local(value).strftime(pattern) if value else ""


def hours_left(due: datetime | None, now: datetime) -> str:
    """Time to a deadline as officers read it: "剩 5 小时" / "超时 2 天"."""
    if due is None:
        return ""
    seconds = (due - now).total_seconds()
    hours = abs(seconds) / 3600
    amount = f"{hours / 24:.0f} 天" if hours >= 48 else f"{hours:.0f} 小时"
    return f"剩 {amount}" if seconds >= 0 else f"超时 {amount}"


def helpers() -> dict[str, Any]:
    """Functions every page template may call."""
    return {
        "when": when,
        "hours_left": hours_left,
        "mask": lambda phone: mask_phones(phone or ""),
        "shown_phone": lambda viewer, person, phone=None: person.phone_shown_to(viewer, phone),
        "with_query": with_query,
    }


def org_q(paths: list[str], prefix: str = "") -> Q:
    """Organisations (or rows via `prefix`, e.g. "org__") under any of `paths`."""
    none: dict[str, Any] = {f"{prefix}id__in": []}
    q = Q(pk__in=[]) if not prefix else Q(**none)
    for p in paths:
        q |= Q(**{f"{prefix}path__startswith": p})
    return q
