"""平台无关的入站消息与回复。

Channels turn platform payloads into `Inbound` and render `Reply`; nothing
else in the code knows what a platform looks like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Inbound:
    platform: str  # wechat, onebot, console, wecom, qq
    user_id: str  # platform user id without prefix (openid, QQ number, console name)
    chat_id: str  # group id in groups, else the user id
    text: str = ""
    display_name: str = ""
    is_group: bool = False
    mentioned_bot: bool = False
    # "text", or an event name: subscribe, unsubscribe, scan, click, view,
    # image, location, link, voice, member_join, ...
    kind: str = "text"
    # Dedup key; "" means the platform gives none and the message is not deduplicated.
    event_id: str = ""
    timestamp: float = field(default_factory=time.time)
    raw: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user_key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def chat_key(self) -> str:
        return f"{self.platform}:{self.chat_id}"


@dataclass(slots=True)
class Reply:
    """One message the bot says. Channels choose how it travels."""

    text: str
    # Mention the asker when the platform supports it (OneBot at_sender).
    at_sender: bool = False
