"""兑换目录与核销码：/兑换目录、/上架、/下架、/兑换 物品（成员自己兑换）、/核销。

The rules are on `models.redemption`; the activities service owns `/兑换` (the officer's
`/兑换 成员 小时 物品`) and hands a one-word `/兑换 物品` to what this router provides
as "redeem_item".
"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from bot.service import Service
from models.activities import need_org
from models.people import person_targets
from models.redemption import CatalogueItem, Redemption

service = Service("redemption", labels="activity_labels", purpose="activity")
router = service.router
router.refusals = "refused/redemption"  # its refusal texts (bot/refusals.py)
say = service.say
notify = service.notify


async def my_paths(ctx: Ctx) -> list[str]:
    return await CatalogueItem.paths_for(ctx.caller, ctx.org)


@router.command("兑换目录", "catalogue")
async def catalogue(ctx: Ctx) -> Reply:
    """可以用时间银行小时或积分兑换的物品和服务。"""
    items = await CatalogueItem.visible(await my_paths(ctx))
    return say(ctx, "tb_catalogue", items=items)


@router.command(
    "上架",
    "shelve",
    permission=OFFICER,
    args=[Arg("item"), Arg("price"), Arg("stock", required=False)],
    mutates=True,
)
async def shelve(ctx: Ctx) -> Reply:
    """把物品或服务放进兑换目录：标价“2小时”或“50积分”，库存不写为不限。"""
    org = need_org(await ctx.acting_org())
    stock = ctx.args[2] if len(ctx.args) > 2 else None
    item = await CatalogueItem.shelve(
        org, ctx.args[0], ctx.args[1], stock, await ctx.person(), now=ctx.now()
    )
    return say(ctx, "tb_done", action="shelved", item=item, org_name=org.name)


@router.command("下架", "unshelve", permission=OFFICER, args=[Arg("item")], mutates=True)
async def unshelve(ctx: Ctx) -> Reply:
    """从兑换目录撤下（已发出的核销码照样有效）。"""
    item = await CatalogueItem.find(ctx.args[0], await my_paths(ctx))
    item.check_officer(ctx.caller)
    await item.remove()
    return say(ctx, "tb_done", action="unshelved", item=item)


@router.provide("redeem_item")
async def redeem_item(ctx: Ctx, name: str) -> Reply:
    """`/兑换 物品`: the member pays from their own balance and gets a 6-digit code."""
    item = await CatalogueItem.find(name, await my_paths(ctx))
    valid_days = ctx.runtime.config.activities.redemption_valid_days
    red = await item.redeem(await ctx.person(), now=ctx.now(), valid_days=valid_days)
    return say(ctx, "tb_done", action="redeemed", item=item, red=red)


@router.command("核销", "verify", permission=OFFICER, args=[Arg("code")], mutates=True)
async def verify(ctx: Ctx) -> Reply:
    """核销一张兑换码（党务工作者或合作商家），每个码只能用一次。"""
    red = await Redemption.by_code(ctx.args[0])
    red.check_verifier(ctx.caller)
    await red.use(await ctx.person(), now=ctx.now())
    notify(
        ctx,
        await person_targets(red.person_id),
        "tb_notice",
        f"red:{red.id}:used",
        kind="code_used",
        red=red,
    )
    return say(ctx, "tb_done", action="verified", red=red)
