"""Fixtures of the WechatSender tests: a database and the fake WeChat API over loopback HTTP."""

from __future__ import annotations

import shutil

import pytest

from bot.db import close_db, init_db
from tests.fakes.wechat_api import FakeWechatAPI
from tests.wechat_sender.tools import APPID, SECRET


@pytest.fixture
async def sqlite_db(tmp_path, sqlite_template):
    """The sender tests need a database but not a particular engine: a copy of the
    session's migrated template (migrating each test's own took 7 s)."""
    target = tmp_path / "t.db"
    shutil.copyfile(sqlite_template, target)
    url = f"sqlite://{target}"
    await init_db(url)
    yield url
    await close_db()


@pytest.fixture
async def fake(aiohttp_server):
    return await FakeWechatAPI(APPID, SECRET).serve(aiohttp_server)
