"""亮身份：登记（五步的对话），党务工作者确认或驳回。"""

from __future__ import annotations

from bot.context import Ctx
from bot.dialogs import Dialog, Step
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.checkin.common import labels, notify, router, say
from models.checkin import MemberRegistration
from models.checkin.rules import member_type_of, normalize_name, normalize_phone, org_text, yes_no
from models.org_names import org_from_answer
from models.people import Organization, Person, officer_targets, person_targets


async def read_home(ctx: Ctx, answer: str) -> Organization | str:
    """An org code in the system, or the branch's name when it is outside."""
    text = org_text(answer)
    return await Organization.find(text) or text


def read_member_type(ctx: Ctx, answer: str) -> str:
    return member_type_of(answer, labels(ctx).get("member_type_words", {}))


def read_yes_no(ctx: Ctx, answer: str) -> bool:
    words = labels(ctx)
    return yes_no(answer, words.get("yes_words", []), words.get("no_words", []))


class Register(Dialog, key="register", ask="checkin_ask"):
    """党员亮身份：姓名、手机、组织关系所在支部（不在系统里的再问报到社区）、正式/预备、是否已转入。"""

    name = Step(parse=lambda ctx, answer: normalize_name(answer))
    phone = Step(parse=lambda ctx, answer: normalize_phone(answer))
    home = Step(parse=read_home)
    local = Step(parse=lambda ctx, answer: org_from_answer(answer, ("community",)))
    type = Step(parse=read_member_type)
    relation = Step(parse=read_yes_no)


@router.command("登记", "亮身份", "register", mutates=True, private_only=True)
async def register(ctx: Ctx) -> Reply:
    """党员亮身份：姓名、手机、组织关系所在支部、正式/预备、组织关系是否已转入。"""
    await ctx.dialog.start(Register.name)
    return ctx.dialog.question(Register.name)


@router.step(Register.name)
async def register_name(ctx: Ctx) -> Reply:
    ctx.dialog.data["real_name"] = ctx.answer
    return await ctx.dialog.ask(Register.phone)


@router.step(Register.phone)
async def register_phone(ctx: Ctx) -> Reply:
    ctx.dialog.data["phone"] = ctx.answer
    return await ctx.dialog.ask(Register.home)


@router.step(Register.home)
async def register_home(ctx: Ctx) -> Reply:
    data, home = ctx.dialog.data, ctx.answer
    if isinstance(home, Organization):
        data.update(home_org_id=home.id, home_text="", org_id=home.id)
        return await ctx.dialog.ask(Register.type, home=home.name)
    data.update(home_org_id=None, home_text=home)
    return await ctx.dialog.ask(Register.local, home=home)


@router.step(Register.local)
async def register_local(ctx: Ctx) -> Reply:
    ctx.dialog.data["org_id"] = ctx.answer.id
    return await ctx.dialog.ask(Register.type, home=ctx.dialog.data["home_text"])


@router.step(Register.type)
async def register_type(ctx: Ctx) -> Reply:
    ctx.dialog.data["member_type"] = ctx.answer
    return await ctx.dialog.ask(Register.relation)


@router.step(Register.relation)
async def register_relation(ctx: Ctx) -> Reply:
    data = ctx.dialog.data
    await ctx.dialog.finish()
    org = await Organization.get(id=data["org_id"])
    home = await Organization.get(id=data["home_org_id"]) if data.get("home_org_id") else None
    reg, updated = await MemberRegistration.submit(
        await ctx.person(),
        org,
        real_name=data["real_name"],
        phone=data["phone"],
        home_org=home,
        home_text=data.get("home_text", ""),
        member_type=data["member_type"],
        relation_handed=ctx.answer,
        reply_target=ctx.inbound.user_key,
        now=ctx.now(),
    )
    notify(
        ctx,
        await officer_targets(org),
        ctx.change_key(f"reg:{reg.id}"),
        kind="reg_new",
        reg=reg,
        updated=updated,
    )
    return say(ctx, "checkin_done", action="registered", reg=reg, updated=updated)


@router.command("确认", "confirm", permission=OFFICER, args=[Arg("number")], mutates=True)
async def confirm(ctx: Ctx) -> Reply:
    """确认一份党员登记：本人成为党员（member），登记的信息生效。"""
    reg = await MemberRegistration.by_number(ctx.args[0])
    await reg.confirm(await ctx.person(), ctx.caller, now=ctx.now())
    person = await Person.get(id=reg.person_id)
    await ctx.runtime.identity.grant(
        person, "member", reg.home_org or reg.org, granted_by=ctx.inbound.user_key
    )
    notify(
        ctx,
        await person_targets(reg.person_id),
        f"reg:{reg.id}:confirmed",
        kind="reg_confirmed",
        reg=reg,
    )
    return say(ctx, "checkin_done", action="confirmed", reg=reg)


@router.command(
    "驳回",
    "decline",
    permission=OFFICER,
    args=[Arg("number"), Arg("reason", rest=True)],
    mutates=True,
)
async def decline(ctx: Ctx) -> Reply:
    """驳回一份党员登记并说明原因，本人会收到通知，可改好后重新 /登记。"""
    reg = await MemberRegistration.by_number(ctx.args[0])
    await reg.reject(ctx.args[1], await ctx.person(), ctx.caller, now=ctx.now())
    notify(
        ctx,
        await person_targets(reg.person_id),
        f"reg:{reg.id}:rejected",
        kind="reg_rejected",
        reg=reg,
    )
    return say(ctx, "checkin_done", action="declined", reg=reg)
