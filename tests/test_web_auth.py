"""党务工作台的登录、会话、CSRF 与审计：真实 HTTP，两种数据库。"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.clock import Clock
from bot.config import ConfigError
from models.errors import DomainError
from models.people import Identity
from models.web import AuditEntry, LoginToken, WebSession
from tests.conftest import grant_officer, make_config
from tests.webtools import admin_config, csrf_in, link_in, login, path_of, post_form

PAGES = [
    "/admin/",
    "/admin/requests",
    "/admin/approvals",
    "/admin/people",
    "/admin/import",
    "/admin/import/template.xlsx",
    "/admin/activities",
    "/admin/broadcasts",
    "/admin/ledgers",
    "/admin/audit",
    "/admin/sessions",
]


@pytest.fixture
def config(db_url):
    return admin_config(db_url)


@pytest.fixture
async def second(aiohttp_client, client):
    """Another browser on the same server (its own cookie jar)."""
    from aiohttp.test_utils import TestClient

    other = TestClient(client.server)
    await other.start_server()
    yield other
    await other.close()


async def test_every_page_without_a_session_goes_to_login(client):
    for path in [*PAGES, "/admin"]:
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302, path
        assert resp.headers["Location"] in ("/admin/login", "/admin/"), path
    resp = await client.get("/admin/", allow_redirects=True)
    assert str(resp.url).endswith("/admin/login") and "/登录" in await resp.text()


async def test_login_link_from_chat_once(client, console, demo, second):
    home = await login(client, console, "secretary")
    assert "王书记" in home and "和平社区党委" in home
    # The link was used: a second browser cannot use it again.
    reply = await console.one("/login", user="secretary")
    path = path_of(link_in(reply))
    assert reply.startswith("党务工作台登录链接（10 分钟内有效")
    assert path.startswith("/admin/login?token=")
    first = await second.get(path)
    html = await first.text()
    resp = await second.post(
        "/admin/login",
        data={"token": path.split("=", 1)[1], "_csrf": csrf_in(html)},
        allow_redirects=False,
    )
    assert resp.status == 302
    again = await second.get(path)
    assert again.status == 403 and "已经用过了" in await again.text()
    reused = await second.post(
        "/admin/login",
        data={"token": path.split("=", 1)[1], "_csrf": csrf_in(await again.text())},
        allow_redirects=False,
    )
    assert reused.status == 403 and "已经用过了" in await reused.text()
    # The token is stored only as its hash.
    assert await LoginToken.filter(secret_hash=path.split("=", 1)[1]).count() == 0


async def test_expired_and_unknown_links(client, console, demo):
    ident = await Identity.get(platform="console", user_id="secretary")
    raw = await LoginToken.issue_link(
        ident.person_id, "console:secretary", now=Clock().now() - timedelta(minutes=11)
    )
    page = await client.get(f"/admin/login?token={raw}")
    assert page.status == 403 and "已过期" in await page.text()
    html = await (await client.get("/admin/login")).text()
    resp = await client.post("/admin/login", data={"token": raw, "_csrf": csrf_in(html)})
    assert resp.status == 403 and "已过期" in await resp.text()
    resp = await client.post("/admin/login", data={"token": "nope", "_csrf": csrf_in(html)})
    assert resp.status == 403 and "登录链接无效" in await resp.text()
    assert await WebSession.all().count() == 0
    home = await client.get("/admin/", allow_redirects=False)
    assert home.status == 302


async def test_members_and_residents_get_no_session(client, console, demo):
    refused = await console.one("/登录", user="bob")
    assert "/admin/login" not in refused and "只有党务工作者可以使用" in refused
    # An officer whose role is taken away before the link is used gets no session.
    await grant_officer("temp", "SQ001")
    reply = await console.one("/登录", user="temp")
    from models.people import RoleGrant

    await RoleGrant.filter(person__identities__user_id="temp").delete()
    from bot.app import RUNTIME

    client.app[RUNTIME].identity.invalidate("console:temp")
    path = path_of(link_in(reply))
    html = await (await client.get(path)).text()
    resp = await client.post(
        "/admin/login", data={"token": path.split("=", 1)[1], "_csrf": csrf_in(html)}
    )
    assert resp.status == 403 and "只有党务工作者可以登录" in await resp.text()
    assert await WebSession.all().count() == 0


async def test_group_chats_get_no_link(client, console, demo):
    reply = await console.one("/登录", user="secretary", group="g1")
    assert "/admin/login" not in reply


async def test_code_login(client, console, demo):
    page = await client.get("/admin/login")
    code = re.search(r"/登录 (\d{6})", await page.text()).group(1)
    assert (await (await client.get("/admin/login/wait")).json()) == {"ok": False}
    wrong = "000000" if code != "000000" else "111111"
    assert "不对或已过期" in await console.one(f"/登录 {wrong}", user="secretary")
    assert "登录码已确认" in await console.one(f"/登录 {code}", user="secretary")
    assert "不对或已过期" in await console.one(f"/登录 {code}", user="secretary")
    done = await (await client.get("/admin/login/wait")).json()
    assert done == {"ok": True, "next": "/admin/"}
    home = await client.get("/admin/")
    assert home.status == 200 and "王书记" in await home.text()
    # the code logs in once
    assert (await (await client.get("/admin/login/wait")).json()) == {"ok": False}


async def test_login_page_codes_do_not_pile_up(client, console, demo):
    # Every visit of the login page makes a code; those expired a day ago are cleared.
    for _ in range(3):
        await client.get("/admin/login")
    assert await LoginToken.filter(kind="code").count() == 3
    long_ago = Clock().now() - timedelta(days=2)
    await LoginToken.filter(kind="code").update(created_at=long_ago, expires_at=long_ago)
    await client.get("/admin/login")
    assert await LoginToken.filter(kind="code").count() == 1
    assert (await LoginToken.get(kind="code")).expires_at > Clock().now()


async def test_csrf_is_required_on_every_form(client, console, demo):
    await login(client, console, "secretary")
    sid = (await WebSession.first()).id
    for data in ({}, {"_csrf": "forged"}):
        resp = await client.post(f"/admin/sessions/{sid}/revoke", data=data)
        assert resp.status == 403 and "CSRF" in await resp.text()
    assert (await WebSession.get(id=sid)).revoked_at is None
    resp = await client.post("/admin/logout", data={})
    assert resp.status == 403


async def test_sessions_listed_and_revoked(client, console, demo, second):
    await login(client, console, "secretary")
    await login(second, console, "secretary")
    page = await (await client.get("/admin/sessions")).text()
    assert page.count("撤销") >= 2 and "127.0.0.1" in page and "当前" in page
    other = await WebSession.filter(revoked_at__isnull=True).order_by("-id").first()
    resp = await post_form(client, f"/admin/sessions/{other.id}/revoke", {}, "/admin/sessions")
    assert resp.status == 302 and resp.headers["Location"] == "/admin/sessions"
    gone = await second.get("/admin/", allow_redirects=False)
    assert gone.status == 302 and gone.headers["Location"] == "/admin/login"
    assert (await client.get("/admin/")).status == 200
    # logout ends this one too
    resp = await post_form(client, "/admin/logout", {}, "/admin/sessions")
    assert resp.status == 302
    assert (await client.get("/admin/", allow_redirects=False)).status == 302
    actions = [a.action for a in await AuditEntry.all().order_by("id")]
    assert actions == ["login", "login", "revoke_session", "logout"]


async def test_cookie_flags(client, console, demo):
    reply = await console.one("/登录", user="secretary")
    path = path_of(link_in(reply))
    page = await client.get(path)
    cookie = page.headers.get("Set-Cookie", "")
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Path=/admin" in cookie


async def test_officer_chat_commands_are_audited(client, console, demo):
    await console.one("/绑定 SQ001", user="secretary", group="g1")
    await console.one("/诉求 路灯坏了", user="bob", group="g1")
    await console.one("/组织", user="secretary")  # reading is not an action
    entries = await AuditEntry.all()
    assert [(e.action, e.via, e.source, e.actor_name) for e in entries] == [
        ("bind", "chat", "console:g1", "王书记")
    ]
    with pytest.raises(DomainError):
        await entries[0].delete()
    entries[0].detail = "changed"
    with pytest.raises(DomainError):
        await entries[0].save()


def test_admin_config_needs_a_secret(db_url):
    with pytest.raises(ConfigError, match=r"admin\.secret"):
        make_config(db_url, admin={"enabled": True})
    with pytest.raises(ConfigError, match=r"admin\.public_url"):
        make_config(db_url, admin={"enabled": True, "secret": "x" * 20, "public_url": "ftp://x"})


def test_login_link_from_the_shell(tmp_path):
    import os
    import subprocess
    import sys

    from tests.webtools import SECRET

    env = {
        **os.environ,
        "LIANXIN_DATABASE__URL": f"sqlite://{tmp_path}/cli.sqlite3",
        "LIANXIN_ADMIN__ENABLED": "true",
        "LIANXIN_ADMIN__SECRET": SECRET,
        "LIANXIN_BOT__ADMINS": "wechat:oADMIN",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    assert run("db", "upgrade").returncode == 0
    first = run("admin", "login-link", "wechat:oADMIN")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("http://127.0.0.1:8080/admin/login?token=")
    nobody = run("admin", "login-link", "wechat:nobody")
    assert nobody.returncode == 2 and "not an officer or admin" in nobody.stderr
