"""服务（插件）的公共部分：路由、标签、说话的方式。

A service (requests, checkin, activities, grids, …) lives in its own package under
handlers/ with its models under models/ and its words under templates/. It makes one
`Service` and registers everything on it; bot/ knows services only through this object
and never imports a service module::

    service = Service("requests", labels="request_labels", purpose="request")
    router = service.router

    @router.command("诉求", "request")
    async def request(ctx): ...
        return service.say(ctx, "request_filed", req=req)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from bot.registry import Router

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.inbound import Reply
    from bot.runtime import Runtime


class Service:
    def __init__(
        self,
        name: str,
        *,
        labels: str = "",
        purpose: str = "",
        variables: Callable[[Ctx], dict[str, Any]] | None = None,
        refusals: str = "",
    ) -> None:
        self.name = name
        # Its refusal texts: a template such as "refused/requests" (bot/refusals.py).
        self.router = Router(name, refusals=refusals)
        # The service's section of templates/zh_CN/commands.toml: words shown for codes.
        self.labels_key = labels
        # Delivery.purpose of its notices (bot/outbound.py).
        self.purpose = purpose or name
        # More template variables every reply of this service gets (e.g. phone masking).
        self.variables = variables

    def labels(self, ctx_or_runtime: Ctx | Runtime) -> dict[str, Any]:
        runtime = cast("Runtime", getattr(ctx_or_runtime, "runtime", ctx_or_runtime))
        if not self.labels_key:
            return {}
        labels: dict[str, Any] = runtime.templates.commands.get(self.labels_key, {})
        return labels

    def say(self, ctx: Ctx, template: str, **variables: Any) -> Reply:
        """A reply in the service's words: its labels and now (the runtime's clock)."""
        extra = self.variables(ctx) if self.variables else {}
        base = {"labels": self.labels(ctx), "now": ctx.now()}
        return ctx.render(template, **{**base, **extra, **variables})

    def notify(
        self, ctx: Ctx, targets: list[str], template: str, key: str, **variables: Any
    ) -> None:
        """Tell ``targets`` once the command commits (Ctx.push_after_commit), once each."""
        ctx.push_after_commit(
            targets,
            lambda: ctx.runtime.templates.render(
                template, **{"labels": self.labels(ctx), "now": ctx.now(), **variables}
            ),
            purpose=self.purpose,
            key=key,
        )
