"""群绑定组织、改称呼（多步对话示例）、组织列表。"""

from __future__ import annotations

from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.registry import OFFICER, Arg, Router
from models.errors import DomainError
from models.people import WORK_GROUP, Organization, Person

router = Router("admin")
# How an officer marks the group as the officers' work group: /绑定 SQ001 工作群.
WORK_GROUP_WORDS = ("工作群", "work")


@router.command(
    "绑定",
    "bind",
    permission=OFFICER,
    args=[Arg("orgcode"), Arg("purpose", required=False, choices=WORK_GROUP_WORDS)],
    mutates=True,
    group_only=True,
)
async def bind(ctx: Ctx) -> Reply:
    """管理员/党务工作者把本群绑定到一个组织，之后群内命令默认属于该组织。"""
    code = ctx.args[0].upper()
    work_group = len(ctx.args) > 1  # Arg choices: one of WORK_GROUP_WORDS
    org = await Organization.by_code(code)
    if not ctx.caller.is_officer_of(org):
        raise DomainError("not_officer_of", org_name=org.name)
    person = await ctx.person()
    await ctx.runtime.identity.bind_chat(
        ctx.inbound.platform, ctx.inbound.chat_id, org, person, WORK_GROUP if work_group else ""
    )
    return ctx.render("bound", bound_org=org, work_group=work_group)


class Rename(Dialog, key="rename", ask="rename_ask"):
    """改称呼：一问一答。"""

    name = Step(parse=lambda ctx, answer: Person.valid_display_name(answer))


@router.command("改称呼", "rename", mutates=True)
async def rename(ctx: Ctx) -> Reply:
    """设置机器人对你的称呼（一步一问的对话）。"""
    await ctx.dialog.start(Rename.name)
    return ctx.dialog.question(Rename.name)


@router.step(Rename.name)
async def rename_name(ctx: Ctx) -> Reply:
    person = await ctx.person()
    person.display_name = ctx.answer
    await person.save(update_fields=["display_name"])
    await ctx.dialog.finish()
    await ctx.refresh_caller()
    return ctx.render("rename_done", name=ctx.answer)


@router.command("组织", "orgs")
async def orgs(ctx: Ctx) -> Reply:
    """列出组织树（代码、名称、类别），绑定群时用。"""
    rows = await Organization.all().order_by("path")
    return ctx.render("orgs", orgs=rows)
