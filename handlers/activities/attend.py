"""现场签到：党务工作者取签到码，参加的人凭码签到。"""

from __future__ import annotations

from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import OFFICER, Arg
from handlers.activities.common import activity_for_officer, router, say, settings
from models.activities import Activity
from models.errors import DomainError


@router.command(
    "签到码",
    "attendcode",
    permission=OFFICER,
    args=[Arg("number")],
    mutates=True,
    answer_privately=True,
)
async def attend_code(ctx: Ctx) -> Reply:
    """现场签到码：开始前 30 分钟到结束有效。"""
    act = await activity_for_officer(ctx, ctx.args[0])
    code = await act.issue_code(now=ctx.now(), open_minutes=settings(ctx).code_open_minutes)
    return say(ctx, "act_done", action="code", act=act, code=code)


@router.command("签到", "attend", args=[Arg("number"), Arg("code")], mutates=True)
async def attend(ctx: Ctx) -> Reply:
    """凭现场公布的签到码签到；记到场、志愿时长和积分。"""
    act = await Activity.by_number(ctx.args[0])
    cfg = settings(ctx)
    result = await act.attend(
        await ctx.person(),
        ctx.caller,
        ctx.args[1],
        now=ctx.now(),
        open_minutes=cfg.code_open_minutes,
        lock_attempts=cfg.code_lock_attempts,
        lock_minutes=cfg.code_lock_minutes,
        points_attendance=cfg.points_attendance,
        points_per_hour=cfg.points_per_volunteer_hour,
        reply_target=ctx.inbound.reply_target,
    )
    if result.wrong_code:
        # Not raised: the wrong attempt must be committed to count towards the lock-out.
        wrong = DomainError("act_wrong_code", left=result.attempts_left, until=result.locked_until)
        return Reply(ctx.refusal(wrong), at_sender=ctx.inbound.is_group)
    return say(ctx, "act_done", action="attended", act=act, r=result)
