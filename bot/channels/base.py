"""渠道接口：每个平台一个模块，把平台的请求变成 Inbound，把 Reply 变回平台格式。

A channel never imports a handler; it only calls `runtime.dispatcher.handle`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from bot.runtime import Runtime


class Channel(ABC):
    name: str = ""
    path: str = ""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The HTTP routes this channel serves."""

    async def startup(self) -> None:  # noqa: B027 - optional hook
        pass

    async def shutdown(self) -> None:  # noqa: B027 - optional hook
        pass

    def health(self) -> dict[str, Any]:
        """Extra /healthz fields about the platform's side (none by default)."""
        return {}

    def reject(self, status: int, reason: str, text: str = "") -> web.Response:
        """Refuse a request before dispatch, counted by reason (never a 500)."""
        self.rt.metrics.rejected.labels(self.name, reason).inc()
        return web.Response(status=status, text=text or reason)
