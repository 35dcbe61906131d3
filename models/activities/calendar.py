"""哪些活动：菜单上的近期活动、广播的“本周活动”、到点提醒和结束后的汇总。"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models.activities.publish import Activity, CallerLike, open_to
from models.activities.rules import ancestor_paths, week_range
from models.activities.signup import Signup
from models.people import Organization, orgs_under


def _upcoming(org: Organization | None, now: datetime) -> QuerySet[Activity]:
    query = Activity.filter(status="open", ends_at__gt=now)
    if org is not None:
        path = org.path
        query = query.filter(org_id__in=orgs_under([path], exact=ancestor_paths(path)))
    return query.order_by("starts_at", "id")


async def visible_upcoming(
    org: Organization | None, caller: CallerLike, now: datetime
) -> list[Activity]:
    """/活动: open activities not ended yet that the caller may join; with `org` (the
    group's organisation, in private the asker's community) those of it, the ones above
    it and its subtree. By start."""
    rows = await _upcoming(org, now).select_related("org")
    return [a for a in rows if a.open_to(caller)]


@dataclass(frozen=True, slots=True)
class _At:
    path: str  # an activity's organisation, as open_to reads it


async def visible_upcoming_page(
    org: Organization | None, caller: CallerLike, now: datetime, page: int, size: int
) -> tuple[list[Activity], int]:
    """Page `page` (of `size`) of visible_upcoming, and how many there are. Who may join
    is decided on (id, audience, organisation's path) alone, read in one query; only the
    page's rows are read whole (building a district's hundreds of activities took tens
    of ms on the event loop)."""
    light = await _upcoming(org, now).values_list("id", "audience", "org__path")
    at = {path: _At(path) for _, _, path in light}
    ids = [i for i, audience, path in light if open_to(caller, audience, at[path])]
    wanted = ids[(page - 1) * size : page * size]
    found = {a.id: a for a in await Activity.filter(id__in=wanted).select_related("org")}
    return [found[i] for i in wanted if i in found], len(ids)


async def week_activities(org_path: str, now: datetime) -> list[Activity]:
    """Open activities starting this week (the configured clock, Monday first) visible in
    the organisation at `org_path`: those of the organisation and its ancestors, and those
    of its subtree open beyond their own organisation (audience members / everyone);
    ordered by start."""
    start, end = week_range(now)
    scope = Q(org_id__in=orgs_under([], exact=ancestor_paths(org_path))) | (
        Q(org_id__in=orgs_under([org_path])) & ~Q(audience="org")
    )
    return (
        await Activity.filter(scope, status="open", starts_at__gte=start, starts_at__lt=end)
        .select_related("org")
        .order_by("starts_at", "id")
    )


async def reminders_due(now: datetime, lead_hours: float) -> list[Signup]:
    """Confirmed sign-ups of open activities starting within `lead_hours`."""
    return (
        await Signup.filter(
            status="confirmed",
            activity__status="open",
            activity__starts_at__gt=now,
            activity__starts_at__lte=now + timedelta(hours=lead_hours),
        )
        .select_related("activity", "activity__org")
        .order_by("id")
    )


async def ended_recently(now: datetime) -> list[Activity]:
    """Open activities that ended in the last day (a restart after a long stop does not
    replay older summaries)."""
    return (
        await Activity.filter(status="open", ends_at__lte=now, ends_at__gt=now - timedelta(days=1))
        .select_related("org")
        .order_by("ends_at", "id")
    )
