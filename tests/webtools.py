"""Helpers for the workbench's page tests: the admin config, and logging in the way an
officer does (ask the bot in a private chat, open the link, press 登录)."""

from __future__ import annotations

import re
from typing import Any

from bot.config import Config
from tests.conftest import make_config

SECRET = "test-secret-of-the-workbench-0123456789"
LINK = re.compile(r"(https?://\S+/admin/login\?token=[\w-]+)")
CSRF = re.compile(r'name="(?:_csrf" value|csrf-token" content)="([^"]+)"')


def admin_config(db_url: str, **sections: dict[str, Any]) -> Config:
    return make_config(
        db_url,
        admin={"enabled": True, "secret": SECRET, "public_url": "http://lianxin.test"},
        **sections,
    )


def link_in(text: str) -> str:
    m = LINK.search(text)
    assert m, text
    return m.group(1)


def path_of(url: str) -> str:
    return url[url.index("/admin/") :]


def csrf_in(html: str) -> str:
    m = CSRF.search(html)
    assert m, html[:500]
    return m.group(1)


async def login(client: Any, console: Any, user: str) -> str:
    """Log `client` in as console:<user>; returns the overview's HTML."""
    reply = await console.one("/登录", user=user)
    path = path_of(link_in(reply))
    page = await client.get(path)
    assert page.status == 200, await page.text()
    html = await page.text()
    token = path.split("token=", 1)[1]
    resp = await client.post(
        "/admin/login", data={"token": token, "_csrf": csrf_in(html)}, allow_redirects=False
    )
    assert resp.status == 302 and resp.headers["Location"] == "/admin/", await resp.text()
    home = await client.get("/admin/")
    assert home.status == 200
    return await home.text()


async def post_form(client: Any, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    """Submit a form the way the browser does: with the CSRF token of a page just opened."""
    html = await (await client.get(page or path)).text()
    return await client.post(path, data={**data, "_csrf": csrf_in(html)}, allow_redirects=False)


async def two_communities(console: Any) -> None:
    """g1 bound to SQ001 (its officer: secretary), g2 bound to SQ002 (its officer: sq2)."""
    from tests.conftest import grant_officer

    await grant_officer("sq2", "SQ002")
    await console.one("/绑定 SQ001", user="secretary", group="g1")
    await console.one("/绑定 SQ002", user="sq2", group="g2")
