"""平台无关的入站消息与回复。

Channels turn platform payloads into `Inbound` and render `Reply`; nothing
else in the code knows what a platform looks like.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

# Removed from every text, name and id as the Inbound is built (so once, for every
# channel): NUL fails PostgreSQL writes, a lone UTF-16 surrogate cannot be encoded
# back out, and bidi overrides/isolates (U+202A–202E, U+2066–2069) make what officers
# read differ from what was typed.
_UNSAFE = re.compile("[\x00\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# As long as the columns that keep them (Identity.user_id, Identity.nickname).
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 64


def clean_text(text: str) -> str:
    """The text without NUL, lone surrogates and bidi override/isolate controls."""
    return _UNSAFE.sub("", text) if _UNSAFE.search(text) else text


@dataclass(slots=True)
class Inbound:
    platform: str  # wechat, onebot, console, wecom, qq
    user_id: str  # platform user id without prefix (openid, QQ number, console name)
    chat_id: str  # group id in groups, else the user id
    text: str = ""
    display_name: str = ""  # what this chat calls the sender (a group card, per group)
    nickname: str = ""  # the account's platform-wide name, when the platform sends one
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

    def __post_init__(self) -> None:
        # One scan of all six for the usual case of nothing to remove.
        joined = (
            f"{self.user_id}{self.chat_id}{self.text}{self.display_name}"
            f"{self.nickname}{self.event_id}"
        )
        if _UNSAFE.search(joined):
            self.user_id = clean_text(self.user_id)
            self.chat_id = clean_text(self.chat_id)
            self.text = clean_text(self.text)
            self.display_name = clean_text(self.display_name)
            self.nickname = clean_text(self.nickname) if self.nickname else self.nickname
            self.event_id = clean_text(self.event_id)
        self.display_name = self.display_name[:MAX_NAME_CHARS].strip()
        if self.nickname:
            self.nickname = self.nickname[:MAX_NAME_CHARS].strip()
        if self.extra:
            self.extra = {
                k: clean_text(v) if isinstance(v, str) else v for k, v in self.extra.items()
            }

    @property
    def ids_ok(self) -> bool:
        """A user or chat id longer than any platform issues is not a person (refused)."""
        return 0 < len(self.user_id) <= MAX_ID_CHARS and len(self.chat_id) <= MAX_ID_CHARS

    @property
    def user_key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def chat_key(self) -> str:
        return f"{self.platform}:{self.chat_id}"

    @property
    def reply_target(self) -> str:
        """Where answers to what this message started go later: the group, else the person."""
        from bot.targets import chat_target

        return chat_target(self.platform, self.chat_id) if self.is_group else self.user_key


@dataclass(slots=True)
class Reply:
    """One message the bot says. Channels choose how it travels."""

    text: str
    # Mention the asker when the platform supports it (OneBot at_sender).
    at_sender: bool = False
