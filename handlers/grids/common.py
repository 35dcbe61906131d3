"""网格服务共用：路由、网格员权限、模板里的名称、今天是哪天。"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import Permission, Router
from handlers.requests import fmt
from models.grids.config import GridsConfig
from models.grids.households import GRID_WORKER
from models.grids.rules import month_label
from models.requests import local

if TYPE_CHECKING:
    from bot.identity import Caller, OrgView

router = Router("grids")
router.section("grids", GridsConfig)  # [grids] in the config (bot/config.py)
router.refusals = "grid_refused"  # its refusal texts (bot/refusals.py)


class _GridWorker(Permission):
    """Holds the role grid_worker in some grid (admins everywhere)."""

    label = GRID_WORKER

    def check(self, caller: Caller, org: OrgView | None) -> bool:
        return caller.is_admin or any(r.role == GRID_WORKER for r in caller.roles)


GRID_WORKER_ROLE = _GridWorker()


def labels(ctx_or_runtime: Any) -> dict[str, Any]:
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return runtime.templates.commands.get("grid_labels", {})


def now_of(ctx_or_runtime: Any) -> datetime:
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return runtime.clock.now()


def today_of(ctx_or_runtime: Any) -> date:
    return local(now_of(ctx_or_runtime)).date()


def render(runtime: Any, template: str, **variables: Any) -> str:
    """A grid text outside a reply (pushes): the same helpers as `say`."""
    return runtime.templates.render(
        template, labels=labels(runtime), fmt=fmt, month=month_label, **variables
    )


def say(ctx: Ctx, template: str, **variables: Any) -> Reply:
    return ctx.render(template, labels=labels(ctx), fmt=fmt, month=month_label, **variables)
