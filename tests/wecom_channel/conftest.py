"""Fixtures of the WeCom callback tests: the fake WeCom API, the app with the channel on."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import CHANNELS, RUNTIME
from bot.channels.wecom import WecomChannel
from bot.inbound import Inbound, Reply
from tests.conftest import make_config
from tests.fakes.wecom_api import FakeWecomAPI
from tests.wecom_channel.tools import DOC_CREDS, SECRET, WecomServer


@pytest.fixture
def creds(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", DOC_CREDS)


@pytest.fixture
async def fake(aiohttp_server, creds) -> FakeWecomAPI:
    return await FakeWecomAPI(creds["corp"], SECRET, creds["agent"]).serve(aiohttp_server)


@pytest.fixture
def config(db_url: str, fake: FakeWecomAPI, creds: dict[str, Any]):
    """The conftest `client` then runs the app with the wecom channel on."""
    return make_config(
        db_url,
        wecom={
            "enabled": True,
            "corp_id": creds["corp"],
            "agent_id": creds["agent"],
            "secret": SECRET,
            "token": creds["token"],
            "encoding_aes_key": creds["key"],
            "api_base": fake.base_url,
        },
    )


@pytest.fixture
def channel(client) -> WecomChannel:
    [ch] = [c for c in client.app[CHANNELS] if c.name == "wecom"]
    return ch


@pytest.fixture
def wecom(client, creds) -> WecomServer:
    return WecomServer(client, creds)


@pytest.fixture
def seen(client, monkeypatch) -> list[Inbound]:
    """Every Inbound the channel hands to the dispatcher."""
    dispatcher = client.app[RUNTIME].dispatcher
    original = dispatcher.handle
    inbounds: list[Inbound] = []

    async def spy(inb: Inbound) -> list[Reply]:
        inbounds.append(inb)
        return await original(inb)

    monkeypatch.setattr(dispatcher, "handle", spy)
    return inbounds
