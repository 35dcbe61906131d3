"""党员服务：亮身份（登记）、报到 / 离开、接转组织关系、党务工作者的台账查看、隐私。

The rules live on `models.checkin`; this module finds the record, checks who is
asking, calls the model and says what happened (templates/zh_CN/checkin_*.j2).
Notices to other people go out after the commit (ctx.after_commit).
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from bot.context import Ctx
from bot.inbound import Reply
from bot.outbound import Push
from bot.registry import OFFICER, Arg, Router
from bot.text import fold_width
from handlers.requests import fmt, reply_target
from models.checkin import (
    DEFAULT_LOST_DAYS,
    FLOW_IN,
    IN_SERVICE,
    CheckIn,
    MemberRegistration,
    TransferRequest,
    check_member,
    erase_person,
    find_people,
    lost_contact_names,
    mask_phone,
    normalize_name,
    normalize_phone,
    org_by_code,
    shown_phone,
    summary,
    touch,
)
from models.checkin_config import CheckinConfig
from models.checkin_export import member_rows
from models.errors import DomainError
from models.people import (
    Identity,
    Organization,
    Person,
    officer_targets,
    orgs_under,
    person_targets,
)
from models.requests import local, utcnow

router = Router("checkin")
router.section("checkin", CheckinConfig)  # [checkin] in the config (bot/config.py)
router.refusals = "refused/checkin"  # its refusal texts (bot/refusals.py)
router.export("members", periods=False, workbench=True)(member_rows)  # its ledger (bot/exports.py)
PAGE = 10
YES = ("是", "已", "已转", "已交", "交了", "有", "1", "y", "yes")
NO = ("否", "没有", "未", "没", "无", "不", "2", "n", "no")


# -- helpers ------------------------------------------------------------------
def labels(ctx_or_runtime: Any) -> dict[str, Any]:
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return runtime.templates.commands.get("checkin_labels", {})


def say(ctx: Ctx, template: str, **variables: Any) -> Reply:
    return ctx.render(
        template,
        labels=labels(ctx),
        fmt=fmt,
        now=utcnow(),
        phone_for=lambda p, phone=None: shown_phone(ctx.caller, p, phone),
        mask=mask_phone,
        **variables,
    )


def notify(ctx: Ctx, targets: list[str], template: str, key: str, **variables: Any) -> None:
    """Push a notice to each target once the command commits (Ctx.push_after_commit)."""
    ctx.push_after_commit(
        targets,
        lambda: ctx.runtime.templates.render(
            template, labels=labels(ctx), fmt=fmt, mask=mask_phone, **variables
        ),
        purpose="checkin",
        key=key,
    )


def officer_paths(ctx: Ctx) -> list[str]:
    """The organisations an officer looks at: the bound group's, else every one they hold."""
    if ctx.org is not None:
        return [ctx.org.path]
    return ctx.caller.scope_paths()


def page_arg(ctx: Ctx) -> int:
    arg = fold_width(ctx.args[0]) if ctx.args else "1"
    return max(int(arg), 1) if arg.isdigit() else 1


async def person_if_any(ctx: Ctx) -> Person | None:
    if ctx.caller.person_id is None:
        return None
    return (
        await Person.filter(id=ctx.caller.person_id).select_related("home_org", "local_org").first()
    )


async def user_targets(person_id: int) -> list[str]:
    """Where to reach a person privately: each of their platform identities."""
    return await person_targets(person_id)


def member_type_of(answer: str) -> str | None:
    a = fold_width(answer).strip()
    if a in ("1", "正式", "正式党员"):
        return "full"
    if a in ("2", "预备", "预备党员"):
        return "probationary"
    return None


def yes_no(answer: str) -> bool | None:
    a = fold_width(answer).strip().lower()
    if a in YES:
        return True
    if a in NO:
        return False
    return None


# -- 亮身份：登记 ------------------------------------------------------------------
@router.command("登记", "亮身份", "register", mutates=True, private_only=True)
async def register(ctx: Ctx) -> Reply:
    """党员亮身份：姓名、手机、组织关系所在支部、正式/预备、组织关系是否已转入。"""
    await ctx.dialog.start("register", "name")
    return say(ctx, "checkin_ask", step="name")


@router.step("register", "name")
async def register_name(ctx: Ctx) -> Reply:
    try:
        ctx.dialog.data["real_name"] = normalize_name(ctx.rest)
    except DomainError:
        return say(ctx, "checkin_ask", step="name", invalid=True)
    await ctx.dialog.goto("register", "phone")
    return say(ctx, "checkin_ask", step="phone")


@router.step("register", "phone")
async def register_phone(ctx: Ctx) -> Reply:
    try:
        ctx.dialog.data["phone"] = normalize_phone(ctx.rest)
    except DomainError:
        return say(ctx, "checkin_ask", step="phone", invalid=True)
    await ctx.dialog.goto("register", "home")
    return say(ctx, "checkin_ask", step="home")


@router.step("register", "home")
async def register_home(ctx: Ctx) -> Reply:
    """An org code in the system, or the branch's name when it is outside."""
    answer = ctx.rest.strip()
    if not 1 <= len(answer) <= 100:
        return say(ctx, "checkin_ask", step="home", invalid=True)
    org = await Organization.filter(code=fold_width(answer).upper()).first()
    data = ctx.dialog.data
    if org is not None:
        data.update(home_org_id=org.id, home_text="", org_id=org.id)
        await ctx.dialog.goto("register", "type")
        return say(ctx, "checkin_ask", step="type", home=org.name)
    data.update(home_org_id=None, home_text=answer)
    await ctx.dialog.goto("register", "local")
    return say(ctx, "checkin_ask", step="local", home=answer)


@router.step("register", "local")
async def register_local(ctx: Ctx) -> Reply:
    code = fold_width(ctx.rest).strip().upper()
    org = await Organization.filter(code=code).first()
    if org is None:
        return say(
            ctx, "checkin_ask", step="local", unknown=code, home=ctx.dialog.data["home_text"]
        )
    ctx.dialog.data["org_id"] = org.id
    await ctx.dialog.goto("register", "type")
    return say(ctx, "checkin_ask", step="type", home=ctx.dialog.data["home_text"])


@router.step("register", "type")
async def register_type(ctx: Ctx) -> Reply:
    kind = member_type_of(ctx.rest)
    if kind is None:
        return say(ctx, "checkin_ask", step="type", invalid=True, home="")
    ctx.dialog.data["member_type"] = kind
    await ctx.dialog.goto("register", "relation")
    return say(ctx, "checkin_ask", step="relation")


@router.step("register", "relation")
async def register_relation(ctx: Ctx) -> Reply:
    handed = yes_no(ctx.rest)
    if handed is None:
        return say(ctx, "checkin_ask", step="relation", invalid=True)
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
        relation_handed=handed,
        reply_target=ctx.inbound.user_key,
    )
    notify(
        ctx,
        await officer_targets(org),
        "checkin_notice",
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
    officer = await ctx.person()
    await reg.confirm(officer, ctx.caller)
    person = await Person.get(id=reg.person_id)
    await ctx.runtime.identity.grant(
        person, "member", reg.home_org or reg.org, granted_by=ctx.inbound.user_key
    )
    notify(
        ctx,
        await user_targets(reg.person_id),
        "checkin_notice",
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
    await reg.reject(ctx.args[1], await ctx.person(), ctx.caller)
    notify(
        ctx,
        await user_targets(reg.person_id),
        "checkin_notice",
        f"reg:{reg.id}:rejected",
        kind="reg_rejected",
        reg=reg,
    )
    return say(ctx, "checkin_done", action="declined", reg=reg)


# -- 报到 / 离开 ---------------------------------------------------------------------
@router.command("报到", "checkin", args=[Arg("kind_or_code", required=False)], mutates=True)
async def checkin(ctx: Ctx) -> Reply:
    """在绑定了组织的群里报到（默认流入；`/报到 在职` 为在职党员到社区报到）；私聊时问组织代码。"""
    words = [fold_width(a) for a in ctx.args]
    service_words = labels(ctx).get("in_service_words", [])
    kind = IN_SERVICE if any(w in service_words for w in words) else FLOW_IN
    await check_member(await ctx.person())  # before asking anything
    if ctx.inbound.is_group:
        if ctx.org is None:
            raise DomainError("checkin_group_unbound")
        return await _check_in(ctx, await Organization.get(id=ctx.org.id), kind)
    codes = [w for w in words if w not in service_words]
    if codes:
        return await _check_in(ctx, await org_by_code(codes[0]), kind)
    await ctx.dialog.start("checkin", "org", kind=kind)
    return say(ctx, "checkin_ask", step="checkin_org")


@router.step("checkin", "org")
async def checkin_org(ctx: Ctx) -> Reply:
    code = fold_width(ctx.rest).strip().upper()
    org = await Organization.filter(code=code).first()
    if org is None:
        return say(ctx, "checkin_ask", step="checkin_org", unknown=code)
    kind = ctx.dialog.data.get("kind", FLOW_IN)
    await ctx.dialog.finish()
    return await _check_in(ctx, org, kind)


async def _check_in(ctx: Ctx, org: Organization, kind: str) -> Reply:
    person = await ctx.person()
    row = await CheckIn.check_in(person, org, kind, chat=ctx.inbound.chat_key)
    if not ctx.inbound.is_group:
        notify(
            ctx,
            await officer_targets(org),
            "checkin_notice",
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
        await ctx.person(), ctx.args[0], org_id=ctx.org.id if ctx.org else None
    )
    return say(ctx, "checkin_done", action="left", row=row)


# -- 接转组织关系 --------------------------------------------------------------------
@router.command("转接", "transfer", mutates=True)
async def transfer(ctx: Ctx) -> Reply:
    """申请接转组织关系：转出组织、转入组织（代码或名称）、原因。"""
    await ctx.dialog.start("transfer", "from")
    return say(ctx, "checkin_ask", step="transfer_from")


@router.step("transfer", "from")
async def transfer_from(ctx: Ctx) -> Reply:
    code = fold_width(ctx.rest).strip().upper()
    org = await Organization.filter(code=code).first()
    if org is None:
        return say(ctx, "checkin_ask", step="transfer_from", unknown=code)
    ctx.dialog.data["from_org_id"] = org.id
    await ctx.dialog.goto("transfer", "to")
    return say(ctx, "checkin_ask", step="transfer_to", from_name=org.name)


@router.step("transfer", "to")
async def transfer_to(ctx: Ctx) -> Reply:
    answer = ctx.rest.strip()
    if not 1 <= len(answer) <= 100:
        return say(ctx, "checkin_ask", step="transfer_to", invalid=True, from_name="")
    org = await Organization.filter(code=fold_width(answer).upper()).first()
    if org is not None and org.id == ctx.dialog.data["from_org_id"]:
        return say(ctx, "checkin_ask", step="transfer_to", same=True, from_name=org.name)
    ctx.dialog.data.update(to_org_id=org.id if org else None, to_text="" if org else answer)
    await ctx.dialog.goto("transfer", "reason")
    return say(ctx, "checkin_ask", step="transfer_reason")


@router.step("transfer", "reason")
async def transfer_reason(ctx: Ctx) -> Reply:
    reason = ctx.rest.strip()
    if not 1 <= len(reason) <= 500:
        return say(ctx, "checkin_ask", step="transfer_reason", invalid=True)
    data = ctx.dialog.data
    await ctx.dialog.finish()
    from_org = await Organization.get(id=data["from_org_id"])
    to_org = await Organization.get(id=data["to_org_id"]) if data.get("to_org_id") else None
    tr = await TransferRequest.file(
        await ctx.person(),
        from_org,
        to_org=to_org,
        to_text=data.get("to_text", ""),
        reason=reason,
        reply_target=reply_target(ctx.inbound),
        chat=ctx.inbound.chat_key,
    )
    notify(
        ctx,
        await officer_targets(from_org),
        "checkin_notice",
        f"tr:{tr.id}:new",
        kind="tr_new",
        tr=tr,
    )
    return say(ctx, "checkin_done", action="transfer_filed", tr=tr)


async def _decide_transfer(ctx: Ctx, approve: bool) -> Reply:
    tr = await TransferRequest.by_number(ctx.args[0])
    note = ctx.args[1] if len(ctx.args) > 1 else ""
    officer = await ctx.person()
    if approve:
        await tr.approve(officer, ctx.caller, note, chat=ctx.inbound.chat_key)
    else:
        await tr.reject(note, officer, ctx.caller, chat=ctx.inbound.chat_key)
    targets = [tr.reply_target, *(await user_targets(tr.person_id))]
    if approve and tr.to_org is not None:
        targets += await officer_targets(tr.to_org)
    notify(
        ctx,
        list(dict.fromkeys(targets)),
        "checkin_notice",
        f"tr:{tr.id}:{tr.status}",
        kind="tr_decided",
        tr=tr,
    )
    return say(ctx, "checkin_done", action="transfer_decided", tr=tr)


@router.command(
    "批准转接",
    "approvetransfer",
    permission=OFFICER,
    args=[Arg("number"), Arg("note", required=False, rest=True)],
    mutates=True,
)
async def approve_transfer(ctx: Ctx) -> Reply:
    """转出组织的党务工作者批准接转，申请人会收到通知。"""
    return await _decide_transfer(ctx, True)


@router.command(
    "驳回转接",
    "rejecttransfer",
    permission=OFFICER,
    args=[Arg("number"), Arg("reason", rest=True)],
    mutates=True,
)
async def reject_transfer(ctx: Ctx) -> Reply:
    """转出组织的党务工作者驳回接转并说明原因。"""
    return await _decide_transfer(ctx, False)


@router.command("转接进度", "transferstatus", args=[Arg("number", required=False)])
async def transfer_status(ctx: Ctx) -> Reply:
    """查看接转申请的每一步（申请人，或转出、转入组织的党务工作者）。"""
    if ctx.args:
        tr = await TransferRequest.by_number(ctx.args[0])
    else:
        tr = (
            await TransferRequest.filter(person_id=ctx.caller.person_id)
            .select_related("from_org", "to_org", "person")
            .order_by("-id")
            .first()
            if ctx.caller.person_id is not None
            else None
        )
        if tr is None:
            raise DomainError("transfer_none")
    if tr.person_id != ctx.caller.person_id and not any(
        ctx.caller.is_officer_of(o) for o in (tr.from_org, tr.to_org) if o is not None
    ):
        raise DomainError("transfer_not_yours", number=tr.id)
    return say(ctx, "checkin_transfer", tr=tr, events=await tr.history())


# -- 党务工作者：台账 -----------------------------------------------------------------
@router.command(
    "流动党员",
    "flowing",
    permission=OFFICER,
    args=[Arg("page", required=False)],
    answer_privately=True,
)
async def flowing(ctx: Ctx) -> Reply:
    """报到到本组织的党员（在的、已离开的），每页 10 条。"""
    page = page_arg(ctx)
    query = CheckIn.filter(org_id__in=orgs_under(officer_paths(ctx)))
    total = await query.count()
    rows = (
        await query.select_related("person", "person__home_org", "person__local_org", "org")
        .order_by("left_at", "-checked_in_at", "-id")
        .offset((page - 1) * PAGE)
        .limit(PAGE)
    )
    pages = max((total + PAGE - 1) // PAGE, 1)
    return say(ctx, "checkin_list", what="flowing", rows=rows, total=total, page=page, pages=pages)


@router.command("待确认", "pending", permission=OFFICER, answer_privately=True)
async def pending(ctx: Ctx) -> Reply:
    """等我确认的党员登记。"""
    rows = (
        await MemberRegistration.filter(org_id__in=orgs_under(officer_paths(ctx)), status="pending")
        .select_related("org", "home_org", "person")
        .order_by("created_at", "id")
        .limit(50)
    )
    return say(ctx, "checkin_list", what="pending", rows=rows, total=len(rows))


@router.command(
    "查人",
    "findmember",
    permission=OFFICER,
    args=[Arg("query", max_digits=18)],  # a phone or an ID-card number
    answer_privately=True,
)
async def find_member(ctx: Ctx) -> Reply:
    """按姓名或手机尾号查本组织的党员。"""
    rows = await find_people(officer_paths(ctx), ctx.args[0])
    return say(ctx, "checkin_list", what="find", rows=rows, total=len(rows), query=ctx.args[0])


@router.command("党员统计", "memberstats", permission=OFFICER, answer_privately=True)
async def member_stats(ctx: Ctx) -> Reply:
    """登记党员、口袋党员、流入、流出、失联的人数。"""
    days = lost_days(ctx.runtime)
    figures = await summary(officer_paths(ctx), days)
    return say(ctx, "checkin_summary", f=figures, days=days)


# -- 隐私 ---------------------------------------------------------------------------
@router.command("我的信息", "myinfo", private_only=True)
async def my_info(ctx: Ctx) -> Reply:
    """看看系统里记着我的哪些信息。"""
    person = await person_if_any(ctx)
    regs: list[MemberRegistration] = []
    rows: list[CheckIn] = []
    if person is not None:
        await touch(person)
        regs = (
            await MemberRegistration.filter(person_id=person.id)
            .select_related("org", "home_org")
            .order_by("-id")
            .limit(3)
        )
        rows = (
            await CheckIn.filter(person_id=person.id)
            .select_related("org")
            .order_by("-checked_in_at", "-id")
            .limit(5)
        )
    return say(ctx, "checkin_myinfo", person=person, regs=regs, rows=rows)


@router.command("删除我的信息", "forgetme", mutates=True, private_only=True)
async def forget_me(ctx: Ctx) -> Reply:
    """删除我的个人信息（姓名、电话等）；先确认一次。"""
    await ctx.dialog.start("forgetme", "confirm")
    return say(ctx, "checkin_ask", step="forget")


@router.step("forgetme", "confirm")
async def forget_me_confirm(ctx: Ctx) -> Reply:
    await ctx.dialog.finish()
    if fold_width(ctx.rest).strip() not in labels(ctx).get("erase_words", []):
        return say(ctx, "checkin_done", action="kept")
    if ctx.caller.person_id is not None:
        person = await Person.get(id=ctx.caller.person_id)
        await erase_person(person)
        await ctx.refresh_caller()
    return say(ctx, "checkin_done", action="erased")


# -- 每月联系提醒 ----------------------------------------------------------------------
def lost_days(runtime: Any) -> int:
    return runtime.config.checkin.lost_days


@router.every(lambda config: config.checkin.reminder_interval_minutes * 60)
async def contact_reminders(runtime: Any, now: datetime) -> list[Push]:
    return await contact_pushes(runtime, now, days=lost_days(runtime))


async def contact_pushes(runtime: Any, now: datetime, days: int = DEFAULT_LOST_DAYS) -> list[Push]:
    """Reminders to members not seen for `days` to get in touch; once a month per
    person (the key holds across restarts)."""
    month = local(now).strftime("%Y%m")
    people = await lost_contact_names(["/"], days, now)
    targets = await Identity.targets_of(pid for pid, _ in people)  # not a query per person
    # The text differs only in the name: rendered once, not once per person (thousands).
    mark = "\x00name\x00"
    text = runtime.templates.render(
        "checkin_notice",
        kind="contact",
        person=SimpleNamespace(name=mark),
        labels=labels(runtime),
        fmt=fmt,
        mask=mask_phone,
    )
    pushes: list[Push] = []
    for pid, name in people:
        mine = text.replace(mark, name)
        for target in targets.get(pid, []):
            pushes.append(Push(target, mine, f"contact:{pid}:{month}:{target}", "checkin_contact"))
    return pushes
