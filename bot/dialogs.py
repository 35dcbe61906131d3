"""多步对话状态：存在数据库里（重启不丢），带过期时间。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.events import DialogState


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dialogs:
    def __init__(self, timeout_minutes: int = 10) -> None:
        self.timeout = timedelta(minutes=timeout_minutes)

    async def current(self, user_key: str, chat_key: str) -> DialogState | None:
        return await DialogState.filter(user_key=user_key, chat_key=chat_key).first()

    async def start(
        self,
        user_key: str,
        chat_key: str,
        dialog: str,
        step: str,
        data: dict[str, Any],
        *,
        expires_at: datetime | None = None,
    ) -> None:
        """Start (or restart) a dialog; an older one in the same chat is replaced.

        `expires_at` for a question the bot asks someone else (a 回访 is open for days)."""
        await DialogState.update_or_create(
            user_key=user_key,
            chat_key=chat_key,
            defaults={
                "dialog": dialog,
                "step": step,
                "data": data,
                "expires_at": expires_at or utcnow() + self.timeout,
            },
        )

    async def clear(self, user_key: str, chat_key: str) -> bool:
        return bool(await DialogState.filter(user_key=user_key, chat_key=chat_key).delete())


class DialogControl:
    """What a handler may do with the asker's dialog in this chat."""

    def __init__(self, dialogs: Dialogs, user_key: str, chat_key: str) -> None:
        self._dialogs = dialogs
        self._user_key = user_key
        self._chat_key = chat_key
        self.data: dict[str, Any] = {}
        # finish() was called: the dialog is over even if the step is then refused and
        # its transaction rolls back (the dispatcher clears it again afterwards).
        self.finished = False

    async def start(self, dialog: str, step: str, **data: Any) -> None:
        self.data = dict(data)
        self.finished = False
        await self._dialogs.start(self._user_key, self._chat_key, dialog, step, self.data)

    async def goto(self, dialog: str, step: str) -> None:
        """Move to the next step, keeping (and saving) `data`; the expiry restarts."""
        self.finished = False
        await self._dialogs.start(self._user_key, self._chat_key, dialog, step, self.data)

    async def finish(self) -> None:
        self.finished = True
        await self._dialogs.clear(self._user_key, self._chat_key)

    async def finish_after_refusal(self) -> None:
        """A refusal rolled back the step's transaction: keep the dialog finished."""
        if self.finished:
            await self._dialogs.clear(self._user_key, self._chat_key)
