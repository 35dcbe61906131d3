"""走访：网格员一句话记一次走访（/走访 5栋301 电话 反映下水道堵），像诉求的可转为诉求。"""

from __future__ import annotations

from bot.clock import local
from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.registry import Arg
from bot.text import fold_width
from handlers.grids.common import GRID_WORKER_ROLE, labels, now_of, router, say
from models.errors import DomainError
from models.grids.households import Household, Visit, worker_grids, worker_progress
from models.grids.rules import reads_as_request, split_visit_line


class GridVisit(Dialog, key="grid_visit"):
    """走访记下的情况像诉求时：回复 1 转为诉求。"""

    to_request = Step()


@router.command(
    "走访",
    "visit",
    permission=GRID_WORKER_ROLE,
    args=[Arg("place"), Arg("note", required=False, rest=True)],
    mutates=True,
    private_only=True,  # households, names and notes stay out of groups
)
async def visit(ctx: Ctx) -> Reply:
    """网格员记一次走访：地点（照平时的写法）、方式（上门/电话/微信/其他，默认上门）、情况。"""
    words = labels(ctx)
    place, mode, note = split_visit_line(ctx.rest, words["mode_words"])
    worker = await ctx.person()
    household = await Household.match(await worker_grids(worker.id), place)
    now = now_of(ctx)
    row = await Visit.record(household, worker, mode, note, now, chat=ctx.inbound.chat_key)
    progress = await worker_progress(
        worker.id, local(now).date(), ctx.runtime.config.grids.visits_per_year
    )
    offer = bool(note) and reads_as_request(note, words["request_words"])
    offer = offer and ctx.runtime.registry.provided("file_request") is not None
    if offer:
        await ctx.dialog.start(GridVisit.to_request, visit_id=row.id)
    return say(ctx, "grid_visit", visit=row, household=household, p=progress, offer=offer)


@router.step(GridVisit.to_request)
async def visit_to_request(ctx: Ctx) -> Reply:
    """回复 1：把这次走访记下的情况转为诉求，诉求和走访互相关联。"""
    visit_id = ctx.dialog.data.get("visit_id")
    await ctx.dialog.finish()
    if fold_width(ctx.rest).strip() not in labels(ctx)["yes_words"]:
        return say(ctx, "grid_visit_request", req=None)
    row = await Visit.filter(id=visit_id).select_related("household", "grid").first()
    if row is None or row.worker_id != ctx.caller.person_id:
        raise DomainError("grid_visit_gone")
    # The requests service files it and tells the grid's officers (offered only with it).
    file_request = ctx.runtime.registry.provided("file_request")
    req = await file_request(ctx, row.grid, row.note, place=row.household.address, now=now_of(ctx))
    await row.link_request(req.id)
    return say(
        ctx,
        "grid_visit_request",
        req=req,
        org_name=row.grid.name,
        # The requests service's names of its categories, from the shared templates.
        request_labels=ctx.runtime.templates.commands.get("request_labels", {}),
    )
