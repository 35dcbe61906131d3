"""我的网格（网格员）与网格统计（党务工作者）。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.grids.common import GRID_WORKER_ROLE, router, say, today_of
from models.errors import DomainError
from models.grids.households import grid_figures, my_grid
from models.grids.rules import over_quota
from models.people import Organization


@router.command("我的网格", "mygrid", permission=GRID_WORKER_ROLE, private_only=True)
async def mygrid(ctx: Ctx) -> Reply:
    """网格员：我负责的住户，每户的上次走访和今年走访次数，该走访的排在前面。"""
    cfg = ctx.runtime.config.grids
    rows, progress = await my_grid(ctx.caller.person_id or 0, today_of(ctx), cfg.visits_per_year)
    over = over_quota(len(rows), cfg.households_per_worker)
    return say(
        ctx, "grid_mine", rows=rows, p=progress, over=over, per_worker=cfg.households_per_worker
    )


@router.command("网格统计", "gridstats", permission=OFFICER, args=[Arg("org", required=False)])
async def gridstats(ctx: Ctx) -> Reply:
    """党务工作者：本组织（含下级）每位网格员的户数、今年覆盖率、落后进度的户数、每月走访。"""
    org = await _stats_org(ctx)
    cfg = ctx.runtime.config.grids
    today = today_of(ctx)
    rows = await grid_figures(org, today, cfg.visits_per_year, cfg.households_per_worker)
    return say(
        ctx,
        "grid_stats",
        org_name=org.name,
        rows=rows,
        today=today,
        quota=cfg.visits_per_year,
        per_worker=cfg.households_per_worker,
    )


async def _stats_org(ctx: Ctx) -> Organization:
    """The organisation named, else the bound group's, else the officer's own."""
    org = await Organization.by_code(ctx.args[0]) if ctx.args else await ctx.acting_org()
    if org is None:
        raise DomainError("grid_need_org")
    if not ctx.caller.is_officer_of(org):
        raise DomainError("grid_not_your_scope", org_name=org.name)
    return org
