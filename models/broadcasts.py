"""定时推送：广播（一次或周期）、每次触发的记录、主题订阅。

`Broadcast` rows are the truth about what is scheduled; the apscheduler jobs are
rebuilt from them. Every fire time of a broadcast gets one `BroadcastFiring`
row, written in the same transaction that claims the fire time and writes a
pending `Delivery` row per target, so a fire time is either wholly planned or
not at all. Sending then moves each Delivery pending → sending → sent/failed;
see bot/broadcaster.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models.errors import DomainError
from models.people import scope_q

if TYPE_CHECKING:
    from tortoise.queryset import QuerySet

    from models.people import Viewer

BROADCAST_STATUSES = ("active", "done", "cancelled")
# group: one chat (audience_ref is its target); org_groups: every group bound to
# the org's subtree (audience_ref is the org id); topic: the topic's subscribers
# (audience_ref "topic|org path"); job: a service's periodic job (audience_ref is
# the job name, it says itself who gets what).
AUDIENCES = ("group", "org_groups", "topic", "job")
FIRING_STATUSES = ("sending", "done", "skipped")


class Broadcast(Model):
    """一条定时推送：发什么（模板）、给谁、按什么规则、下一次何时。"""

    id = fields.IntField(primary_key=True)
    org = fields.ForeignKeyField(
        "models.Organization", related_name="broadcasts", null=True, on_delete=fields.RESTRICT
    )
    org_id: int | None  # the column tortoise adds, for type checkers
    created_by = fields.ForeignKeyField(
        "models.Person", related_name="broadcasts", null=True, on_delete=fields.SET_NULL
    )
    # A service job's name ("requests.deadline_reminders"); unique so each has one row.
    job = fields.CharField(max_length=64, null=True, unique=True)
    rule = fields.CharField(max_length=100)  # "once", "cron:0 8 * * *", "every:300"
    rule_text = fields.CharField(max_length=100, default="")  # as the officer typed it
    audience = fields.CharField(max_length=16)
    audience_ref = fields.CharField(max_length=191, default="")
    content = fields.TextField(default="")  # a jinja2 template (sandboxed)
    urgent = fields.BooleanField(default=False)  # ignores quiet hours
    status = fields.CharField(max_length=16, default="active")
    next_fire_at = fields.DatetimeField(null=True)  # nominal, before quiet hours
    created_at = fields.DatetimeField(auto_now_add=True)
    cancelled_at = fields.DatetimeField(null=True)
    cancelled_by = fields.ForeignKeyField(
        "models.Person", related_name="broadcasts_cancelled", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "broadcast"
        indexes = (("status", "next_fire_at"),)

    # Longer than any notice people read to the end in a chat.
    MAX_CONTENT = 2000

    @classmethod
    def check_content(cls, text: str) -> None:
        if len(text) > cls.MAX_CONTENT:
            raise DomainError("broadcast_too_long", limit=cls.MAX_CONTENT)

    @classmethod
    async def visible_to(cls, viewer: Viewer, number: int) -> Broadcast:
        """An officers' broadcast the viewer may see: of an organisation in their scope
        (anything else is "unknown", so numbers do not tell what exists elsewhere)."""
        b = await cls.filter(id=number, job__isnull=True).select_related("org").first()
        if b is None or not (viewer.is_admin or (b.org and viewer.is_officer_of(b.org))):
            raise DomainError("broadcast_unknown", id=number)
        return b

    @classmethod
    def active_for(cls, viewer: Viewer) -> QuerySet[Broadcast]:
        """The officers' broadcasts still to come that the viewer looks after."""
        query = cls.filter(job__isnull=True, status="active")
        if viewer.is_admin:
            return query
        return query.filter(scope_q(viewer.scope_paths()))

    @property
    def recurring(self) -> bool:
        return self.rule != "once"

    async def claim(self, nominal: datetime, next_fire_at: datetime | None) -> bool:
        """Take the fire time `nominal` and move on to the next one; False if another
        process took it first (or it was cancelled meanwhile). One conditional UPDATE."""
        updated = await Broadcast.filter(id=self.id, status="active", next_fire_at=nominal).update(
            next_fire_at=next_fire_at,
            status="active" if next_fire_at is not None else "done",
        )
        if updated:
            self.next_fire_at = next_fire_at
            self.status = "active" if next_fire_at is not None else "done"
        return bool(updated)

    async def cancel(self, by_person_id: int | None, now: datetime) -> None:
        """取消：只有还在生效的广播能取消；已经发出的不撤回。"""
        updated = await Broadcast.filter(id=self.id, status="active").update(
            status="cancelled", cancelled_at=now, cancelled_by_id=by_person_id, next_fire_at=None
        )
        if not updated:
            raise DomainError("broadcast_not_active", id=self.id, status=self.status)
        self.status = "cancelled"


class BroadcastFiring(Model):
    """广播的一次触发：计划时间、实际开始、目标数与结果；错过宽限期的记为 skipped。"""

    id = fields.BigIntField(primary_key=True)
    broadcast = fields.ForeignKeyField(
        "models.Broadcast", related_name="firings", on_delete=fields.CASCADE
    )
    broadcast_id: int  # the column tortoise adds, for type checkers
    fire_at = fields.DatetimeField()  # the nominal fire time
    status = fields.CharField(max_length=16, default="sending")
    reason = fields.CharField(max_length=255, default="")
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    targets = fields.IntField(default=0)
    sent = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    # In flight when the process died: not sent again, so never twice; shown to officers.
    uncertain = fields.IntField(default=0)
    # Earlier fire times folded into this one (down for a while, or quiet hours).
    superseded = fields.IntField(default=0)

    class Meta:
        table = "broadcast_firing"
        unique_together = (("broadcast", "fire_at"),)
        indexes = (("status",),)


class Subscription(Model):
    """订阅：某人在某个会话里订阅一个主题；退订即删除，之后不再推送。"""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="subscriptions", on_delete=fields.CASCADE
    )
    topic = fields.CharField(max_length=32)
    target = fields.CharField(max_length=191)  # where to push ("onebot:10001")
    # Whose topic broadcasts reach them: officers of this org or above. None: only the
    # top of the tree (and admins) reach them.
    org = fields.ForeignKeyField(
        "models.Organization", related_name="subscriptions", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "subscription"
        unique_together = (("person", "topic"),)
        indexes = (("topic",),)
