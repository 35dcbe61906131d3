"""定时推送：广播、周期推送、订阅、每日党课（bot/broadcaster.py 负责按时、只发一次）。"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.broadcaster import ContentError, ContentLimitError, lesson_of_day
from bot.clock import fmt
from bot.context import Ctx
from bot.inbound import Reply
from bot.registry import EVERYONE, OFFICER, Arg, Router
from bot.schedule import RuleError, next_fire, split_rule
from bot.text import fold_width
from models.broadcasts import Broadcast, BroadcastFiring, Subscription
from models.deliveries import Delivery
from models.errors import DomainError
from models.people import Organization

router = Router("broadcasts")
router.refusals = "refused/broadcasts"  # its refusal texts (bot/refusals.py)
LIST_LIMIT = 10


@dataclass
class Audience:
    kind: str  # group / org_groups / topic (models.broadcasts.AUDIENCES)
    ref: str
    org: Organization | None
    topic: str = ""  # said back by broadcast_created.j2 with the organisation


def words(ctx: Ctx) -> dict[str, Any]:
    """The officer's words for audiences (templates/zh_CN/broadcasts.toml)."""
    return ctx.runtime.templates.vocabulary("broadcasts")  # type: ignore[no-any-return]


def topics(ctx: Ctx) -> list[str]:
    return list(ctx.runtime.config.broadcasts.topics)


def say(ctx: Ctx, template: str, **variables: Any) -> Reply:
    return ctx.render(template, **variables)


async def split_audience(ctx: Ctx, text: str) -> tuple[Audience, str]:
    """The optional target word at the start of the content, and the content."""
    parts = text.strip().split(None, 1)
    word, rest = [*parts, "", ""][:2]
    w = fold_width(word)
    vocabulary = words(ctx)
    org = await ctx.acting_org()
    topic = None
    for prefix in vocabulary["topic_prefixes"]:
        if w.startswith(prefix) and len(w) > len(prefix):
            topic = w[len(prefix) :]
    if topic is None and w in topics(ctx):
        topic = w
    if topic is not None:
        if topic not in topics(ctx):
            raise DomainError("topic_unknown", topic=topic, topics="、".join(topics(ctx)))
        path = "/" if ctx.caller.is_admin and ctx.org is None else (org.path if org else None)
        if path is None:
            raise DomainError("broadcast_need_org")
        return Audience("topic", f"{topic}|{path}", org, topic), rest.strip()
    if w in vocabulary["all_groups"]:
        if org is None:
            raise DomainError("broadcast_need_org")
        return Audience("org_groups", str(org.id), org), rest.strip()
    body = rest.strip() if w in vocabulary["this_group"] else text.strip()
    if not ctx.inbound.is_group:
        raise DomainError("broadcast_private_needs_target", topics="、".join(topics(ctx)))
    if ctx.org is None:
        raise DomainError("broadcast_group_unbound")
    return Audience("group", ctx.inbound.reply_target, org), body


def lesson_content(ctx: Ctx, topic: str | None) -> str | None:
    """The daily lesson's template, for the lesson topic with no text of its own."""
    vocabulary = words(ctx)
    return vocabulary["lesson_content"] if topic == vocabulary["lesson_topic"] else None


def content_of(ctx: Ctx, audience: Audience, body: str) -> str:
    """The template text; the daily lesson when a 每日党课 broadcast has no text."""
    if not body:
        lesson = lesson_content(ctx, audience.topic or None)
        if lesson is not None:
            return lesson
        raise DomainError("broadcast_empty", usage=ctx.runtime.templates.commands.get("broadcast"))
    Broadcast.check_content(body)
    try:
        ctx.runtime.broadcaster.content.check(body)
    except ContentError as exc:
        raise DomainError("broadcast_bad_template", error=str(exc)) from exc
    return body


async def render_sample(ctx: Ctx, content: str, org: Organization | None, now: datetime) -> str:
    broadcaster = ctx.runtime.broadcaster
    try:
        return await broadcaster.content.render(content, await broadcaster.variables(org, now))
    except ContentLimitError as exc:
        raise DomainError("broadcast_template_limit", kind=exc.kind, limit=exc.limit) from exc
    except ContentError as exc:
        raise DomainError("broadcast_bad_template", error=str(exc)) from exc


async def create(
    ctx: Ctx, rule: str, rule_text: str, first: datetime, audience: Audience, body: str
) -> Reply:
    content = content_of(ctx, audience, body)
    now = ctx.now()
    sample = await render_sample(ctx, content, audience.org, now)
    person = await ctx.person()
    b = await Broadcast.create(
        org=audience.org, created_by=person, rule=rule, rule_text=rule_text,
        audience=audience.kind, audience_ref=audience.ref, content=content, next_fire_at=first,
    )  # fmt: skip
    broadcaster = ctx.runtime.broadcaster
    ctx.after_commit(lambda: _schedule(broadcaster, b))
    return say(
        ctx, "broadcast_created", b=b, audience=audience, first=first,
        effective=broadcaster.effective(b, first), sample=sample, quiet=broadcaster.quiet,
    )  # fmt: skip


async def _schedule(broadcaster: Any, b: Broadcast) -> None:
    broadcaster.schedule(b)


# -- 一次性广播 / 详情 -------------------------------------------------------------
@router.command(
    "广播",
    "broadcast",
    permission=OFFICER,
    args=(Arg("when_or_number"), Arg("content", required=False, rest=True)),
    mutates=True,
)
async def broadcast(ctx: Ctx) -> Reply:
    if len(ctx.args) == 1 and fold_width(ctx.args[0]).lstrip("#").isdigit():
        return await detail(ctx, int(fold_width(ctx.args[0]).lstrip("#")))
    from bot.timeparse import TimeParseError, split_when

    now = ctx.now()
    try:
        when, rest = split_when(ctx.rest, now, ctx.runtime.config.bot.timezone)
    except TimeParseError as exc:
        raise DomainError("broadcast_bad_time", reason=str(exc), text=ctx.rest) from exc
    if when <= now:
        raise DomainError("broadcast_past", when=fmt(when))
    audience, body = await split_audience(ctx, rest)
    return await create(ctx, "once", "", when, audience, body)


async def detail(ctx: Ctx, number: int) -> Reply:
    b = await Broadcast.visible_to(ctx.caller, number)
    firings = await BroadcastFiring.filter(broadcast_id=b.id).order_by("-fire_at").limit(5)
    latest = firings[0] if firings else None
    pending = 0
    if latest is not None and latest.status == "sending":
        pending = await Delivery.filter(
            firing_id=latest.id, status__in=("pending", "sending")
        ).count()
    nxt = b.next_fire_at
    effective = ctx.runtime.broadcaster.effective(b, nxt) if nxt else None
    return say(ctx, "broadcast_detail", b=b, firings=firings, pending=pending, effective=effective)


# -- 周期推送 ---------------------------------------------------------------------
@router.command(
    "定时",
    "schedule",
    permission=OFFICER,
    args=(Arg("rule"), Arg("content", required=False, rest=True)),
    mutates=True,
)
async def schedule(ctx: Ctx) -> Reply:
    try:
        rule, rest = split_rule(ctx.rest)
    except RuleError as exc:
        raise DomainError("broadcast_bad_rule", reason=str(exc), text=ctx.rest) from exc
    now = ctx.now()
    first = next_fire(rule.canonical, now, ctx.runtime.config.bot.timezone)
    if first is None:
        raise DomainError("broadcast_bad_rule", reason="rule_never", text=ctx.rest)
    audience, body = await split_audience(ctx, rest)
    return await create(ctx, rule.canonical, rule.text, first, audience, body)


@router.command("广播列表", "broadcasts", permission=OFFICER)
async def broadcast_list(ctx: Ctx) -> Reply:
    query = Broadcast.active_for(ctx.caller)
    rows = await query.order_by("next_fire_at", "id").limit(LIST_LIMIT).select_related("org")
    total = await query.count()
    return say(ctx, "broadcast_list", rows=rows, total=total, limit=LIST_LIMIT)


@router.command("取消广播", "unschedule", permission=OFFICER, args=(Arg("number"),), mutates=True)
async def cancel_broadcast(ctx: Ctx) -> Reply:
    raw = fold_width(ctx.args[0]).lstrip("#")
    if not raw.isdigit():
        raise DomainError("broadcast_unknown", id=ctx.args[0])
    b = await Broadcast.visible_to(ctx.caller, int(raw))
    person = await ctx.person()
    await b.cancel(person.id, ctx.now())
    return say(ctx, "broadcast_cancelled", b=b)


@router.command(
    "预览", "preview", permission=OFFICER, args=(Arg("content", rest=True),), answer_privately=True
)
async def preview(ctx: Ctx) -> Reply:
    """Render the text as the broadcast would, to the officer only."""
    body = ctx.rest.strip()
    content = lesson_content(ctx, body) or body
    try:
        ctx.runtime.broadcaster.content.check(content)
    except ContentError as exc:
        raise DomainError("broadcast_bad_template", error=str(exc)) from exc
    text = await render_sample(ctx, content, await ctx.acting_org(), ctx.now())
    return say(ctx, "broadcast_preview", text=text)


# -- 订阅 -------------------------------------------------------------------------
def topic_arg(ctx: Ctx) -> str:
    topic = fold_width(ctx.args[0]).lstrip("#")
    if topic not in topics(ctx):
        raise DomainError("topic_unknown", topic=topic, topics="、".join(topics(ctx)))
    return topic


@router.command(
    "订阅",
    "subscribe",
    args=(Arg("topic", required=False), Arg("orgcode", required=False)),
    mutates=True,
    private_only=True,
)
async def subscribe(ctx: Ctx) -> Reply:
    """Subscribe here; the topic's broadcasts come from officers of my organisation
    (the one named, else where I am registered) or above."""
    person = await ctx.person()
    if not ctx.args:
        mine = await Subscription.filter(person_id=person.id).values_list("topic", flat=True)
        return say(ctx, "subscription", action="list", topics=topics(ctx), mine=list(mine))
    topic = topic_arg(ctx)
    target = ctx.inbound.reply_target
    why = ctx.runtime.outbound.refusal(target)
    if why is not None:
        raise DomainError("subscription_cannot_push", platform=ctx.inbound.platform)
    if len(ctx.args) > 1:
        org = await Organization.by_code(ctx.args[1])
    else:
        org_id = person.local_org_id or person.home_org_id
        org = await Organization.filter(id=org_id).first() if org_id else None
    row = await Subscription.filter(person_id=person.id, topic=topic).first()
    if row is not None:
        # Here again: push to this chat from now on; the org changes only when named.
        org_id = org.id if org is not None else row.org_id
        await Subscription.filter(id=row.id).update(target=target, org_id=org_id)
        return say(ctx, "subscription", action="already", topic=topic, sub_org=org)
    await Subscription.create(
        person=person, topic=topic, target=target, org_id=org.id if org else None
    )
    return say(ctx, "subscription", action="subscribed", topic=topic, sub_org=org)


@router.command("退订", "unsubscribe", args=(Arg("topic"),), mutates=True, private_only=True)
async def unsubscribe(ctx: Ctx) -> Reply:
    person = await ctx.person()
    topic = topic_arg(ctx)
    deleted = await Subscription.filter(person_id=person.id, topic=topic).delete()
    return say(ctx, "subscription", action="unsubscribed" if deleted else "not", topic=topic)


# -- 每日党课 -----------------------------------------------------------------------
@router.command("学习", "党课", "lesson", permission=EVERYONE, mutates=True)
async def lesson(ctx: Ctx) -> Reply:
    """Today's lesson; reading it counts once a day towards 积分 and 学习达人榜 (the
    activities service gives the points, when it is installed)."""
    b = ctx.runtime.broadcaster
    now = ctx.now()
    today = lesson_of_day(b.lessons, now, b.tz)
    if today is None:
        return say(ctx, "lesson", lesson=None)
    person = await ctx.person()
    day = now.astimezone(ZoneInfo(b.tz)).date().isoformat()
    award = ctx.runtime.registry.provided("lesson_points")
    points = await award(ctx, person, day) if award is not None else 0
    return say(ctx, "lesson", lesson=today, points=points)
