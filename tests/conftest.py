"""Shared fixtures: a real database (SQLite file, and PostgreSQL when LIANXIN_TEST_PG_URL is
set — .ci/run starts one on 127.0.0.1) and the real app on aiohttp's loopback test server."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.config import Config, load_config
from bot.db import close_db, init_db, upgrade

PG_URL = os.environ.get("LIANXIN_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("LIANXIN_REQUIRE_PG") == "1"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of this test run's own on the server at LIANXIN_TEST_PG_URL, dropped after,
    so that two runs against one server never reset each other's schema.

    The migrations run once, into a template database; each test gets a fresh copy
    (CREATE DATABASE … TEMPLATE), which is much faster than migrating again."""
    if not PG_URL:
        yield ""
        return
    base, _, _ = PG_URL.rpartition("/")
    name = f"lianxin_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}_tmpl"'))
    asyncio.run(upgrade(f"{base}/{name}_tmpl"))
    yield f"{base}/{name}"
    for db in (name, f"{name}_tmpl"):
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with every migration applied, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "lianxin.sqlite3"
    asyncio.run(upgrade(f"sqlite://{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path, pg_url: str, sqlite_template) -> str:
    """A migrated, empty database; every test that takes it runs on both engines."""
    if request.param == "sqlite":
        target = tmp_path / "lianxin.sqlite3"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite://{target}"
    if not pg_url:
        if REQUIRE_PG:
            pytest.fail("LIANXIN_REQUIRE_PG=1 but LIANXIN_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL not configured (set LIANXIN_TEST_PG_URL)")
    name = pg_url.rpartition("/")[2]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{name}_tmpl"')
    return pg_url


@pytest.fixture(autouse=True)
def _forget_wide_figures() -> None:
    """Figures of wide scopes kept by an earlier test (models/widecache.py) are not this
    test's: its database is another one."""
    from models import widecache

    widecache.forget()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    """The database opened for direct model use in the test itself."""
    await init_db(db_url)
    yield db_url
    await close_db()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session for the senders (the app shares one like it)."""
    async with aiohttp.ClientSession() as s:
        yield s


def make_config(db_url: str, **sections: dict[str, Any]) -> Config:
    env = {
        "LIANXIN_DATABASE__URL": db_url,
        "LIANXIN_CONSOLE__ENABLED": "true",
        # Tests drive the broadcaster with a ManualClock: no timers, no campaign loop.
        "LIANXIN_BROADCASTS__LEADER_POLL_SECONDS": "0",
        "LIANXIN_BROADCASTS__TICK_SECONDS": "0",
    }
    for section, values in sections.items():
        for key, value in values.items():
            env[f"LIANXIN_{section.upper()}__{key.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    return load_config(None, env=env)


@pytest.fixture
def config(db_url: str) -> Config:
    return make_config(db_url)


@pytest.fixture
async def client(aiohttp_client, config: Config):
    """The whole app (console channel on) behind a real HTTP server on 127.0.0.1."""
    from bot.app import create_app

    return await aiohttp_client(create_app(config))


class Console:
    """Talk to the bot over /console the way a developer's client would."""

    def __init__(self, client) -> None:
        self.client = client
        self.counter = 0

    async def say(
        self,
        text: str,
        user: str = "alice",
        group: str | None = None,
        name: str = "",
        event_id: str | None = None,
        mention: bool = False,
    ) -> list[str]:
        body: dict[str, Any] = {"user": user, "text": text, "name": name or user}
        if group:
            body.update(group=True, chat=group)
        if mention:
            body["mention"] = True
        if event_id:
            body["id"] = event_id
        resp = await self.client.post("/console", json=body)
        assert resp.status == 200, await resp.text()
        replies = (await resp.json())["replies"]
        # Notices go out after the reply; let them finish so tests can look at them.
        from bot.app import RUNTIME

        await self.client.app[RUNTIME].settle()
        return replies

    async def one(self, text: str, **kw: Any) -> str:
        replies = await self.say(text, **kw)
        assert len(replies) == 1, replies
        return replies[0]

    async def whole(self, text: str, **kw: Any) -> str:
        """The whole answer to ``text``: the first page and every "更多" after it."""
        pages = [await self.one(text, **kw)]
        while pages[-1].endswith("看下一页）"):
            pages.append(await self.one("更多", **kw))
        return "\n".join(pages)


@pytest.fixture
async def console(client) -> Console:
    return Console(client)


@pytest.fixture
async def demo(client) -> None:
    """The demo organisation tree (DEMO > JD01 > SQ001 > ZB001 ...) and console:secretary."""
    from bot.demo import seed

    await seed()


async def grant_officer(user: str, code: str) -> None:
    """Make console:<user> an officer of the organisation with this code."""
    from bot.identity import IdentityService
    from models.people import Organization

    identity = IdentityService()
    person = await identity.ensure_person("console", user, user)
    await identity.grant(person, "officer", await Organization.get(code=code))


async def private_answer(user: str, platform: str = "console") -> str:
    """The last answer a command typed in a group sent to `user` in private."""
    from models.deliveries import Delivery

    row = (
        await Delivery.filter(target=f"{platform}:{user}", purpose="private_answer")
        .order_by("-id")
        .first()
    )
    assert row is not None, f"nothing was sent to {user} in private"
    return row.text
