"""Shared setup of the WechatSender tests: credentials and the sender builder."""

from __future__ import annotations

import aiohttp

from bot.config import WechatConfig
from bot.senders.tokens import TokenCache
from bot.senders.wechat import WechatSender
from tests.fakes.wechat_api import FakeWechatAPI

APPID = "wx1234567890abcdef"
SECRET = "s3cret-do-not-log-0123456789abcd"
KEY = f"wechat:{APPID}"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def make_sender(
    fake: FakeWechatAPI,
    session: aiohttp.ClientSession,
    tokens: TokenCache | None = None,
    *,
    secret: str = SECRET,
    api_base: str | None = None,
    **kwargs,
) -> WechatSender:
    config = WechatConfig(appid=APPID, secret=secret, api_base=api_base or fake.base_url)
    kwargs.setdefault("backoff_base", 0.01)
    return WechatSender(config, session, tokens or TokenCache(), **kwargs)
