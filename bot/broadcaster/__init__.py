"""定时推送（bot/broadcaster/）：core.py 触发（选主、免打扰、宽限期、只发一次），
audience.py 发给谁、说什么，fanout.py 成批发送与恢复，content.py 正文模板与每日党课。"""

from bot.broadcaster.content import (
    Content,
    ContentError,
    ContentLimitError,
    Lesson,
    lesson_of_day,
    load_lessons,
)
from bot.broadcaster.core import Broadcaster

__all__ = [
    "Broadcaster",
    "Content",
    "ContentError",
    "ContentLimitError",
    "Lesson",
    "lesson_of_day",
    "load_lessons",
]
