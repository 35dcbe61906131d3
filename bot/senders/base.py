"""出站发送接口。Channels and the dispatcher use a Sender to say something later
(a late WeChat reply, a broadcast); each platform implements it once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(slots=True)
class SendResult:
    ok: bool
    # The platform's error code (errcode / retcode), None on success or transport failure.
    code: int | None = None
    reason: str = ""
    # A permanent failure (user unsubscribed, window closed) is not worth retrying.
    permanent: bool = False
    attempts: int = 1


class Sender(ABC):
    platform: str = ""

    @abstractmethod
    async def send_text(self, user_id: str, text: str) -> SendResult:
        """Send a text to one person (platform user id without prefix)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (most senders share the app's HTTP session)."""
