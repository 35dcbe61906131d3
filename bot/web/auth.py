"""登录与会话：聊天里 /登录 给的一次性链接，或登录页的 6 位码；会话列表与撤销、退出。"""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp_session import get_session

from bot.audit import record_web
from bot.registry import OFFICER
from bot.web.common import (
    Officer,
    address,
    device,
    officer_of,
    page,
    runtime_of,
)
from models.errors import DomainError
from models.people import Person
from models.web import LoginToken, WebSession, digest

routes = web.RouteTableDef()


@routes.get("/login", name="login")
async def login_page(request: web.Request) -> web.Response:
    """With ?token=: whose link it is and a button (a link preview must not use it up);
    without: a 6-digit code to send to the bot, and a page that waits for it."""
    token = request.query.get("token", "")
    if token:
        row = await LoginToken.filter(kind="link", secret_hash=digest(token)).first()
        error = ""
        if row is None:
            error = "login_link_unknown"
        elif row.used_at is not None:
            error = "login_link_used"
        elif row.expires_at <= runtime_of(request).clock.now():
            error = "login_link_expired"
        person = await Person.get_or_none(id=row.person_id) if row and row.person_id else None
        return await page(
            request,
            "login_link.html",
            status=403 if error else 200,
            token=token,
            error=error,
            person=person,
        )
    session = await get_session(request)
    waiter = secrets.token_urlsafe(24)
    session["waiter"] = waiter
    code = await LoginToken.issue_code(waiter, now=runtime_of(request).clock.now())
    return await page(request, "login_code.html", code=code, error="")


@routes.post("/login", name="login")
async def login_with_link(request: web.Request) -> web.Response:
    form = await request.post()
    raw = form.get("token")
    try:
        token = await LoginToken.redeem_link(
            raw if isinstance(raw, str) else "", now=runtime_of(request).clock.now()
        )
    except DomainError as err:
        return await page(
            request, "login_link.html", status=403, token="", error=err.code, person=None
        )
    if not await start_session(request, token):
        return await page(
            request, "login_link.html", status=403, token="", error="not_officer", person=None
        )
    raise web.HTTPFound("/admin/")


@routes.get("/login/wait", name="login_wait")
async def login_wait(request: web.Request) -> web.Response:
    """The code page asks every few seconds whether its code was sent in chat."""
    session = await get_session(request)
    waiter = session.get("waiter")
    now = runtime_of(request).clock.now()
    token = await LoginToken.redeem_code(waiter, now=now) if isinstance(waiter, str) else None
    if token is None:
        return web.json_response({"ok": False})
    if not await start_session(request, token):
        return web.json_response({"ok": False, "error": "not_officer"}, status=403)
    return web.json_response({"ok": True, "next": "/admin/"})


async def start_session(request: web.Request, token: LoginToken) -> bool:
    """A fresh session (new cookie, new CSRF token) for the token's person, if an officer."""
    rt = runtime_of(request)
    platform, _, user_id = token.user_key.partition(":")
    caller = await rt.identity.resolve(platform, user_id)
    if caller.person_id != token.person_id or not OFFICER.check(caller, None):
        return False
    row, sid = await WebSession.open(
        token,
        device=device(request),
        address=address(request),
        days=rt.config.admin.session_days,
        now=rt.clock.now(),
    )
    # Everything the cookie held before is dropped (get_session: the middleware's object).
    session = await get_session(request)
    session.invalidate()
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(24)
    await record_web(request, Officer(row, caller), "login", token.kind)
    return True


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    officer = officer_of(request)
    await WebSession.revoke(
        officer.person_id, officer.session.id, now=runtime_of(request).clock.now()
    )
    await record_web(request, officer, "logout", "")
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound("/admin/login")


@routes.get("/sessions")
async def sessions(request: web.Request) -> web.Response:
    officer = officer_of(request)
    rows = await WebSession.filter(
        person_id=officer.person_id,
        revoked_at__isnull=True,
        expires_at__gt=runtime_of(request).clock.now(),
    ).order_by("-last_used_at", "-id")
    return await page(request, "sessions.html", rows=rows, current=officer.session.id)


@routes.post("/sessions/{id:\\d+}/revoke")
async def revoke(request: web.Request) -> web.Response:
    officer = officer_of(request)
    session_id = int(request.match_info["id"])
    if await WebSession.revoke(officer.person_id, session_id, now=runtime_of(request).clock.now()):
        await record_web(request, officer, "revoke_session", f"#{session_id}")
    if session_id == officer.session.id:
        (await get_session(request)).invalidate()
        raise web.HTTPFound("/admin/login")
    raise web.HTTPFound("/admin/sessions")
