"""网格服务共用：路由、网格员权限、模板里的名称、今天是哪天。"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.clock import local
from bot.registry import Permission
from bot.service import Service
from models.grids.config import GridsConfig
from models.grids.households import GRID_WORKER
from models.grids.rules import month_label

if TYPE_CHECKING:
    from bot.identity import Caller, OrgView

service = Service(
    "grids", labels="grid_labels", purpose="grid", variables=lambda ctx: {"month": month_label}
)
router = service.router
router.section("grids", GridsConfig)  # [grids] in the config (bot/config.py)
router.refusals = "refused/grids"  # its refusal texts (bot/refusals.py)


class _GridWorker(Permission):
    """Holds the role grid_worker in some grid (admins everywhere)."""

    label = GRID_WORKER

    def check(self, caller: Caller, org: OrgView | None) -> bool:
        return caller.is_admin or any(r.role == GRID_WORKER for r in caller.roles)


GRID_WORKER_ROLE = _GridWorker()


labels = service.labels
say = service.say


def now_of(ctx_or_runtime: Any) -> datetime:
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return runtime.clock.now()  # type: ignore[no-any-return]


def today_of(ctx_or_runtime: Any) -> date:
    return local(now_of(ctx_or_runtime)).date()


def render(runtime: Any, template: str, **variables: Any) -> str:
    """A grid text outside a reply (pushes): the same words as `say`."""
    return runtime.templates.render(  # type: ignore[no-any-return]
        template, labels=labels(runtime), month=month_label, **variables
    )
