"""The activities service object and what its handlers share: the words people type
for kinds, audiences, capacities and "skip" (activity_labels in commands.toml), and
the notices to sign-ups."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.context import Ctx
from bot.service import Service
from bot.text import fold_width
from models.activities import KINDS, Activity, Signup, parse_capacity
from models.activities_config import ActivitiesConfig
from models.activities_export import activity_rows
from models.errors import DomainError
from models.people import person_targets

service = Service("activities", labels="activity_labels", purpose="activity")
router = service.router
router.section("activities", ActivitiesConfig)  # [activities] in the config (bot/config.py)
router.refusals = "refused/activities"  # its refusal texts (bot/refusals.py)
router.export("activities", dated=True, workbench=True)(activity_rows)  # its ledger
say = service.say
notify = service.notify


def settings(ctx_or_runtime: Any) -> Any:
    """[activities] of the configuration (bot/config.py ActivitiesConfig)."""
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return runtime.config.activities


def tz(ctx: Ctx) -> str:
    return str(ctx.runtime.config.bot.timezone)


def kind_of(ctx: Ctx, answer: str) -> str | None:
    """ "3" (its number in the list), a label (党小组会) or a key → the kind; else None."""
    a = fold_width(answer).strip()
    if a.isdigit() and 1 <= int(a) <= len(KINDS):
        return KINDS[int(a) - 1]
    by_label = {v: k for k, v in service.labels(ctx)["kind"].items()}
    return by_label.get(a) or (a if a in KINDS else None)


def read_kind(ctx: Ctx, answer: str) -> str:
    kind = kind_of(ctx, answer)
    if kind is None:
        raise DomainError("act_bad_kind", kind=answer[:20])
    return kind


def guess_kind(ctx: Ctx, title: str, hours: Decimal) -> str:
    names = service.labels(ctx)["kind"]
    for key, label in sorted(names.items(), key=lambda kv: -len(kv[1])):
        if key != "other" and label in title:
            return key
    return "volunteer" if hours > 0 else "other"


def audience_of(ctx: Ctx, answer: str) -> str | None:
    return service.labels(ctx).get("audience_words", {}).get(fold_width(answer).strip())


def read_audience(ctx: Ctx, answer: str) -> str:
    audience = audience_of(ctx, answer)
    if audience is None:
        raise DomainError("act_bad_audience", audience=answer[:20])
    return audience


def read_capacity(ctx: Ctx, answer: str) -> int:
    return parse_capacity(answer, service.labels(ctx).get("unlimited", []))


def is_skip(ctx: Ctx, answer: str) -> bool:
    return fold_width(answer).strip() in service.labels(ctx).get("skip", [])


async def activity_for_officer(ctx: Ctx, number: str) -> Activity:
    act = await Activity.by_number(number)
    act.check_officer(ctx.caller)
    return act


async def signup_targets(signups: list[Signup]) -> list[str]:
    return await person_targets(*(s.person_id for s in signups))


async def tell_promoted(ctx: Ctx, act: Activity, promoted: list[Signup]) -> None:
    """Each person promoted from the waitlist is asked to /确认参加 by their deadline."""
    for s in promoted:
        targets = await person_targets(s.person_id)
        key = f"act:{act.id}:promoted:{s.id}"
        notify(ctx, targets, "act_notice", key, kind="promoted", act=act, signup=s)
