"""Fixtures for the OneBot v11 channel tests: app with the channel on, go-cqhttp, fake API."""

from __future__ import annotations

import pytest

from tests.conftest import make_config
from tests.fakes.onebot_api import FakeOnebotAPI
from tests.onebot_channel.tools import SECRET, Cqhttp


@pytest.fixture
def config(db_url: str):
    """The conftest `client` (and `demo`) then run the app with the onebot channel on."""
    return make_config(db_url, onebot={"enabled": True, "secret": SECRET})


@pytest.fixture
def cq(client) -> Cqhttp:
    return Cqhttp(client)


@pytest.fixture
def fake_api() -> FakeOnebotAPI:
    return FakeOnebotAPI(access_token="kSLuTF2GC2Q4q4ugm3")
