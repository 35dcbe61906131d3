"""三会一课落实情况（党务工作者）。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.activities.common import router, say, settings
from models.activities import branches_page, compliance


@router.command("三会一课", "compliance", permission=OFFICER, args=[Arg("page", required=False)])
async def compliance_report(ctx: Ctx) -> Reply:
    """每个支部本期三会一课是否按时开、到会率（每页 page_size 个支部）。"""
    shown, page, pages = await branches_page(ctx.scope_paths(), ctx.page(), settings(ctx).page_size)
    report = await compliance(shown, ctx.now())
    return say(ctx, "act_compliance", report=report, page=page, pages=pages)
