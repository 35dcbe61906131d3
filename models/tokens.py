"""平台 access_token 缓存：放在数据库里，让多个进程共用一个令牌，而不是互相刷新作废。"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AccessToken(Model):
    id = fields.IntField(primary_key=True)
    # e.g. "wechat:<appid>"
    key = fields.CharField(max_length=128, unique=True)
    token = fields.CharField(max_length=1024)
    expires_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "access_token"
