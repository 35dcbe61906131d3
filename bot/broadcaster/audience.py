"""广播发给谁、说什么：收件人（群、下级组织的群、订阅者）与模板变量。"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.broadcaster.content import Content, Lesson, lesson_of_day
from bot.targets import BadTarget, Target, chat_target
from models.broadcasts import Broadcast, Subscription
from models.people import GroupBinding, Organization

if TYPE_CHECKING:
    from bot.runtime import Runtime


class Audience:
    """The recipients of a broadcast and the variables of its text (Broadcaster's part)."""

    runtime: Runtime
    tz: str
    content: Content
    lessons: list[Lesson]

    async def audience(self, b: Broadcast) -> list[tuple[str, Organization | None]]:
        """(target, the organisation whose name the text uses) for each recipient, now."""
        org = await Organization.filter(id=b.org_id).first() if b.org_id else None
        if b.audience == "group":
            binding = await _binding(b.audience_ref)
            return [(b.audience_ref, binding.org if binding else org)]
        if b.audience == "org_groups":
            root = await Organization.filter(id=int(b.audience_ref)).first()
            if root is None:
                return []
            orgs = {o.id: o for o in await Organization.filter(path__startswith=root.path)}
            rows = await (
                GroupBinding.filter(org_id__in=list(orgs))
                .order_by("id")
                .values_list("platform", "chat_id", "org_id")
            )
            seen: dict[str, Organization | None] = {}
            for platform, chat_id, org_id in rows:
                seen.setdefault(chat_target(platform, chat_id), orgs.get(org_id))
            return list(seen.items())
        if b.audience == "topic":
            topic, _, path = b.audience_ref.partition("|")
            path = path or "/"
            subs = await Subscription.filter(topic=topic).select_related("org").order_by("id")
            # Officers reach subscribers of their subtree; the top of the tree, everyone.
            top = path == "/" or path.count("/") == 2
            return [
                (s.target, org)
                for s in subs
                if (s.org is not None and s.org.path.startswith(path)) or (s.org is None and top)
            ]
        return []

    async def variables(self, org: Organization | None, now: datetime) -> dict[str, Any]:
        """What a broadcast template can use, in English and Chinese names."""
        templates = self.runtime.templates
        words = templates.vocabulary("calendar")
        local = now.astimezone(ZoneInfo(self.tz))
        day = {"year": local.year, "month": local.month, "day": local.day}
        lesson = lesson_of_day(self.lessons, now, self.tz)
        values: dict[str, Any] = {
            "date": words["date"].format(**day),
            "full_date": words["full_date"].format(**day),
            "weekday": words["weekdays"][local.weekday()],
            "org": org.name if org else "",
            "lesson": lesson.text if lesson else "",
            "lesson_title": lesson.title if lesson else "",
        }
        for alias, name in templates.vocabulary("broadcasts")["variables"].items():
            values[alias] = values[name]
        # The services' own (the activities service's {{ 本周活动 }}), by their names.
        for more in self.runtime.registry.broadcast_variables:
            values |= await more(self.runtime, org, now)
        return values

    async def text_for(self, b: Broadcast, org: Organization | None, now: datetime) -> str:
        text = self.content.plain(b.content)
        if text is not None:  # nothing to fill in: the services' variables are not read
            return text
        return await self.content.render(b.content, await self.variables(org, now))


async def _binding(target: str) -> GroupBinding | None:
    try:
        t = Target.parse(target)
    except BadTarget:
        return None
    return (
        await GroupBinding.filter(platform=t.platform, chat_id=t.id).select_related("org").first()
    )
