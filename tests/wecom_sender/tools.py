"""Shared setup of the WecomSender tests: credentials, config and sender builders."""

from __future__ import annotations

import aiohttp

from bot.config import WecomConfig
from bot.senders.tokens import TokenCache
from bot.senders.wecom import WecomSender
from tests.fakes.wecom_api import FakeWecomAPI

CORP = "ww1436e0e65a779aee"
AGENT = 1000002
SECRET = "wecom-s3cret-do-not-log-0123456789abcdef"
KEY = f"wecom:{CORP}:{AGENT}"
ROBOT_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
USER = "ZhangSan"


def make_config(fake: FakeWecomAPI, **changes) -> WecomConfig:
    values = {
        "enabled": True,
        "corp_id": CORP,
        "agent_id": AGENT,
        "secret": SECRET,
        "token": "t",
        "encoding_aes_key": "a" * 43,
        "api_base": fake.base_url,
        "robot_keys": {"notices": ROBOT_KEY},
    }
    values.update(changes)
    return WecomConfig(**values)


def make_sender(
    fake: FakeWecomAPI,
    session: aiohttp.ClientSession,
    tokens: TokenCache | None = None,
    *,
    config: WecomConfig | None = None,
    **kwargs,
) -> WecomSender:
    kwargs.setdefault("backoff_base", 0.01)
    return WecomSender(config or make_config(fake), session, tokens or TokenCache(), **kwargs)
