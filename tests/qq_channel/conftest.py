"""Fixtures for the QQ official bot channel tests: the fake QQ OpenAPI and the platform."""

from __future__ import annotations

import pytest

from tests.fakes.qq_api import FakeQQAPI
from tests.qq_channel.tools import APPID, SECRET, QQPlatform, start_bot


@pytest.fixture
async def fake(aiohttp_server) -> FakeQQAPI:
    return await FakeQQAPI(APPID, SECRET).serve(aiohttp_server)


@pytest.fixture
async def qq(aiohttp_client, db_url, fake) -> QQPlatform:
    return await start_bot(aiohttp_client, db_url, fake)
