"""出站发送接口。Channels, the dispatcher and the scheduler say things later (a late
WeChat reply, a broadcast, a reminder) through one `Sender` per platform; the
Outbound service (bot/outbound.py) picks the sender, paces, and records a
Delivery row for every outcome."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from bot.inbound import Reply
    from bot.targets import Target

log = logging.getLogger("lianxin.senders")


@dataclass(slots=True)
class SendResult:
    ok: bool
    # The platform's error code (errcode / retcode), None on success or transport failure.
    code: int | None = None
    reason: str = ""
    # A permanent failure (user unsubscribed, window closed) is not worth retrying.
    permanent: bool = False
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform lets a bot do; `lianxin channels` prints these."""

    reply: bool  # answer inside a conversation
    push_user: bool  # message a person unasked
    push_group: bool  # post into a group unasked
    note: str = ""  # the platform's own limits, for operators
    # 官方 (the platform's own bot API), 非官方 (a client hooked or emulated: opt-in, the
    # account may be restricted) or 开发用.
    status: str = "官方"


class Sender(ABC):
    platform: str = ""
    capabilities = Capabilities(reply=True, push_user=True, push_group=False)

    @abstractmethod
    async def send_text(self, user_id: str, text: str) -> SendResult:
        """Send a text to one person (platform user id without prefix)."""

    async def send(self, target: Target, reply: Reply) -> SendResult:
        """Send to a person or a group. Senders that reach groups override this."""
        if target.kind == "user":
            return await self.send_text(target.id, reply.text)
        return SendResult(False, None, f"{self.platform} cannot post to {target}", permanent=True)

    def poster(self, reply: Reply) -> Callable[[Target], Awaitable[SendResult]]:
        """`send` of one reply to many targets (a broadcast's rows): a sender that can
        prepare the reply once (encode it) does so here instead of once per target."""
        return lambda target: self.send(target, reply)

    def refusal(self, target: Target) -> str | None:
        """Why this sender cannot reach the target, or None (checked when scheduling)."""
        caps = self.capabilities
        if target.kind == "user" and not caps.push_user:
            return f"{self.platform}: the platform does not let a bot message a person unasked"
        if target.kind != "user" and not caps.push_group:
            return f"{self.platform}: the platform does not let a bot post into this group"
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (most senders share the app's HTTP session)."""


@dataclass(slots=True)
class Attempt:
    """The outcome of one try, and whether trying again may help."""

    result: SendResult
    transient: bool = False


async def with_retries(
    attempt: Callable[[], Awaitable[Attempt]],
    *,
    max_attempts: int = 3,
    backoff_base: float = 0.5,
    label: str = "",
) -> SendResult:
    """Try, and on a transient failure wait base·2ⁿ and try again, `max_attempts` in all."""
    tries = 0
    while True:
        tries += 1
        outcome = await attempt()
        outcome.result.attempts = tries
        if outcome.result.ok or not outcome.transient or tries >= max_attempts:
            if not outcome.result.ok:
                log.warning(
                    "%s: failed after %d attempt(s): %s %s",
                    label,
                    tries,
                    outcome.result.code,
                    outcome.result.reason,
                )
            return outcome.result
        delay = backoff_base * (2 ** (tries - 1))
        log.info(
            "%s: attempt %d failed (%s), retry in %.2fs", label, tries, outcome.result.reason, delay
        )
        await asyncio.sleep(delay)


async def post_for_body(
    session: Any,
    url: str,
    payload: bytes,
    headers: dict[str, str],
    timeout: Any,
    *,
    name: str,
    http_reasons: dict[int, str],
) -> Attempt | bytes:
    """POST to a bot framework's HTTP API (OneBot v11 / 12): the 200 answer's body, or
    the failed Attempt (timeouts, connection errors and 5xx may pass; other statuses
    mean the deployment is wrong, said in ``http_reasons``)."""
    try:
        async with session.post(url, data=payload, headers=headers, timeout=timeout) as resp:
            status = resp.status
            raw: bytes = await resp.read()
    except TimeoutError:
        return Attempt(SendResult(False, None, f"{name} 接口超时"), transient=True)
    except aiohttp.ClientError as exc:
        reason = f"连接 {name} 失败（{type(exc).__name__}）"
        return Attempt(SendResult(False, None, reason), transient=True)
    if status >= 500:
        return Attempt(SendResult(False, None, f"{name} HTTP {status}"), transient=True)
    if status != 200:
        reason = http_reasons.get(status, f"{name} HTTP {status}")
        return Attempt(SendResult(False, None, reason, permanent=True))
    return raw
