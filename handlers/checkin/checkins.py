"""报到（群里直接报到；私聊时问要到哪里报到：名称或代码）与离开（流动报告）。"""

from __future__ import annotations

from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.registry import Arg
from handlers.checkin.common import labels, notify, router, say
from models.checkin import FLOW_IN, CheckIn, check_member
from models.checkin.rules import checkin_words
from models.errors import DomainError
from models.org_names import org_from_answer
from models.people import Organization, officer_targets

# Where a flowing or serving member checks in, by name: a community, a grid, a branch.
CHECKIN_KINDS = ("community", "grid", "branch")


class Checkin(Dialog, key="checkin", ask="checkin_ask"):
    """私聊 /报到：问要到哪个组织报到。"""

    org = Step(parse=lambda ctx, answer: org_from_answer(answer, CHECKIN_KINDS))


@router.command("报到", "checkin", args=[Arg("kind_or_code", required=False)], mutates=True)
async def checkin(ctx: Ctx) -> Reply:
    """在绑定了组织的群里报到（默认流入；`/报到 在职` 为在职党员到社区报到）；
    私聊时问要到哪里报到（社区名称或组织代码）。"""
    kind, codes = checkin_words(ctx.args, labels(ctx).get("in_service_words", []))
    await check_member(await ctx.person())  # before asking anything
    if ctx.inbound.is_group:
        if ctx.org is None:
            raise DomainError("checkin_group_unbound")
        return await check_in(ctx, await Organization.get(id=ctx.org.id), kind)
    if codes:
        return await check_in(ctx, await Organization.by_code(codes[0]), kind)
    await ctx.dialog.start(Checkin.org, kind=kind)
    return ctx.dialog.question(Checkin.org)


@router.step(Checkin.org)
async def checkin_org(ctx: Ctx) -> Reply:
    kind = ctx.dialog.data.get("kind", FLOW_IN)
    await ctx.dialog.finish()
    return await check_in(ctx, ctx.answer, kind)


async def check_in(ctx: Ctx, org: Organization, kind: str) -> Reply:
    person = await ctx.person()
    row = await CheckIn.check_in(person, org, kind, chat=ctx.inbound.chat_key, now=ctx.now())
    if not ctx.inbound.is_group:
        notify(
            ctx,
            await officer_targets(org),
            f"chk:{row.id}:in",
            kind="checked_in",
            row=row,
            name=person.name,
        )
    return say(ctx, "checkin_done", action="checked_in", row=row, org_name=org.name)


@router.command("离开", "leave", args=[Arg("destination", rest=True)], mutates=True)
async def leave(ctx: Ctx) -> Reply:
    """离开（流动报告）：结束当前报到，写明去向。"""
    row = await CheckIn.leave_current(
        await ctx.person(), ctx.args[0], org_id=ctx.org.id if ctx.org else None, now=ctx.now()
    )
    return say(ctx, "checkin_done", action="left", row=row)
