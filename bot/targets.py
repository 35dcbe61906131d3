"""出站目标：一个人或一个群，写成字符串 "平台:id"。

People: ``wechat:<openid>``, ``onebot:<qq>``, ``wecom:<userid>``, ``qq:<openid>``,
``console:<name>``. Groups: ``onebot-group:<id>``, ``wecom-chat:<chatid>``,
``wecom-robot:<name>``, ``qq-group:<group_openid>``.

OneBot 12 ids carry the implementation's ``self.platform`` in front, because one
v12 endpoint may front several platforms: ``onebot12:<platform>:<user_id>`` and
``onebot12-group:<platform>:<group_id>`` (``onebot12:wechat:wxid_abc``,
``onebot12-group:wechat:123@chatroom``). The WeCom smart robot's people and
chats are ``wecom-bot:<userid>`` / ``wecom-bot-chat:<chatid>`` (it cannot push:
they exist so that a push there is refused with the platform's reason).
"""

from __future__ import annotations

from dataclasses import dataclass

# prefix → (platform, kind)
PREFIXES: dict[str, tuple[str, str]] = {
    "wechat": ("wechat", "user"),
    "onebot": ("onebot", "user"),
    "wecom": ("wecom", "user"),
    "qq": ("qq", "user"),
    "console": ("console", "user"),
    "onebot-group": ("onebot", "group"),
    "wecom-chat": ("wecom", "group"),
    "wecom-robot": ("wecom", "robot"),
    "qq-group": ("qq", "group"),
    "onebot12": ("onebot12", "user"),
    "onebot12-group": ("onebot12", "group"),
    "wecom-bot": ("wecom-bot", "user"),
    "wecom-bot-chat": ("wecom-bot", "group"),
}

# platform → the prefix of its groups (Target.group)
GROUP_PREFIXES = {
    "onebot": "onebot-group",
    "wecom": "wecom-chat",
    "qq": "qq-group",
    "onebot12": "onebot12-group",
    "wecom-bot": "wecom-bot-chat",
}


class BadTarget(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Target:
    prefix: str
    id: str

    @property
    def platform(self) -> str:
        return PREFIXES[self.prefix][0]

    @property
    def kind(self) -> str:
        """user, group or robot (a send-only group webhook)."""
        return PREFIXES[self.prefix][1]

    @property
    def is_group(self) -> bool:
        return self.kind != "user"

    def __str__(self) -> str:
        return f"{self.prefix}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Target:
        prefix, sep, ident = text.strip().partition(":")
        if not sep or not ident or prefix not in PREFIXES:
            raise BadTarget(
                f"target {text!r}: expected PREFIX:ID with PREFIX one of {', '.join(PREFIXES)}"
            )
        return cls(prefix, ident)

    @classmethod
    def user(cls, platform: str, user_id: str) -> Target:
        return cls(platform, user_id)

    @classmethod
    def group(cls, platform: str, chat_id: str) -> Target:
        return cls(GROUP_PREFIXES[platform], chat_id)


def chat_target(platform: str, chat_id: str) -> str:
    """Where to push into a chat; the console channel names its chats like users."""
    try:
        return str(Target.group(platform, chat_id))
    except KeyError:
        return f"{platform}:{chat_id}"
