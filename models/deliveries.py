"""出站投递记录：每次发送的结果一行，党务工作者可以查到什么发给了谁、是否送达。"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# sending: handed to the platform, no answer yet. unknown: was sending when the process
# died; not sent again (a retry could post twice), counted as uncertain instead.
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "refused", "unknown")


class Delivery(Model):
    id = fields.BigIntField(primary_key=True)
    target = fields.CharField(max_length=191)  # "onebot-group:123", "wechat:oABC"
    platform = fields.CharField(max_length=16)
    purpose = fields.CharField(max_length=32, default="")  # late_reply, broadcast, cli, ...
    # Unique when set: a (broadcast, fire time, target) is delivered at most once.
    dedup_key = fields.CharField(max_length=191, null=True, unique=True)
    text = fields.TextField()
    status = fields.CharField(max_length=16, default="pending")
    error_code = fields.IntField(null=True)
    reason = fields.CharField(max_length=255, default="")
    attempts = fields.IntField(default=0)
    # The broadcast fire time this delivery belongs to (models.broadcasts), if any.
    firing_id = fields.BigIntField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "delivery"
        indexes = (("target", "created_at"),)
