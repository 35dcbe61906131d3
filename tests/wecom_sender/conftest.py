"""Fixtures of the WecomSender tests: the fake WeCom API over real loopback HTTP."""

from __future__ import annotations

import pytest

from tests.fakes.wecom_api import FakeWecomAPI
from tests.wecom_sender.tools import AGENT, CORP, ROBOT_KEY, SECRET


@pytest.fixture
async def fake(aiohttp_server):
    api = FakeWecomAPI(CORP, SECRET, AGENT, chats={"CHAT001"}, robot_keys={ROBOT_KEY})
    return await api.serve(aiohttp_server)
