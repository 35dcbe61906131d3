"""入站事件日志（去重）与多步对话状态。"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class InboundEvent(Model):
    """每个被处理过的入站事件一行；(platform, event_key) 唯一，是"重试不重复执行"的依据。

    Read-only answers are recorded in batches; a command that changes state
    writes its row in the same transaction as the change (bot/dedup.py).
    """

    id = fields.BigIntField(primary_key=True)
    platform = fields.CharField(max_length=16)
    event_key = fields.CharField(max_length=191)
    user_key = fields.CharField(max_length=160, default="")
    command = fields.CharField(max_length=32, default="")
    reply = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "inbound_event"
        unique_together = (("platform", "event_key"),)


class DialogState(Model):
    """一个人在一个会话里正在进行的多步对话；过期后提示已超时。"""

    id = fields.IntField(primary_key=True)
    user_key = fields.CharField(max_length=160)
    chat_key = fields.CharField(max_length=160)
    dialog = fields.CharField(max_length=64)
    step = fields.CharField(max_length=64)
    data = fields.JSONField(default=dict)
    expires_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "dialog_state"
        unique_together = (("user_key", "chat_key"),)
