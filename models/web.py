"""党务工作台的登录：一次性登录链接与登录码、网页会话，以及党务操作的审计记录。

Secrets (link tokens, 6-digit codes, session ids) come from `secrets` and only
their SHA-256 is stored, so a copy of the database logs nobody in. Every
"use once" is one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at > now``
whose row count decides who won, as in models/requests.py.

The audit log is append-only: rows are written by `AuditEntry.record` and never
changed or deleted (`save` of a stored row and `delete` refuse).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from tortoise import fields
from tortoise.models import Model

from models.errors import DomainError

LOGIN_MINUTES = 10
CODE_DIGITS = 6


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class LoginToken(Model):
    """一个登录凭据：聊天里发出的链接（link），或登录页显示、在聊天里回报的 6 位码（code）。"""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=8)  # link / code
    secret_hash = fields.CharField(max_length=64, db_index=True)
    # Who it logs in: set when issued (link) or when the code is sent in chat (code).
    person = fields.ForeignKeyField(
        "models.Person", related_name="login_tokens", null=True, on_delete=fields.CASCADE
    )
    person_id: int | None  # the column tortoise adds, for type checkers
    # The chat identity (platform:user) the officer asked from; web actions run as it.
    user_key = fields.CharField(max_length=160, default="")
    # code: the browser that shows the code holds this secret (in its session cookie).
    waiter_hash = fields.CharField(max_length=64, default="", db_index=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    claimed_at = fields.DatetimeField(null=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "login_token"

    @classmethod
    async def issue_link(cls, person_id: int, user_key: str, *, now: datetime) -> str:
        """A single-use link token for this person, valid LOGIN_MINUTES; returns the secret."""
        raw = secrets.token_urlsafe(32)
        await cls.create(
            kind="link",
            secret_hash=digest(raw),
            person_id=person_id,
            user_key=user_key[:160],
            created_at=now,
            expires_at=now + timedelta(minutes=LOGIN_MINUTES),
        )
        return raw

    @classmethod
    async def issue_code(cls, waiter: str, *, now: datetime) -> str:
        """A 6-digit code for the login page of the browser holding `waiter`. Every visit
        of the login page makes one: those expired a day ago go here, so the table stays
        as small as the codes in use."""
        await cls.filter(kind="code", expires_at__lt=now - timedelta(days=1)).delete()
        while True:
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            # Two live codes must not be equal, or /登录 would not know which page it means.
            if not await cls.filter(
                kind="code", secret_hash=digest(code), used_at__isnull=True, expires_at__gt=now
            ).exists():
                break
        await cls.create(
            kind="code",
            secret_hash=digest(code),
            waiter_hash=digest(waiter),
            created_at=now,
            expires_at=now + timedelta(minutes=LOGIN_MINUTES),
        )
        return code

    @classmethod
    async def claim_code(cls, code: str, person_id: int, user_key: str, *, now: datetime) -> None:
        """`/登录 123456`: the waiting page showing this code will log this person in."""
        count = await cls.filter(
            kind="code",
            secret_hash=digest(code.strip()),
            claimed_at__isnull=True,
            used_at__isnull=True,
            expires_at__gt=now,
        ).update(person_id=person_id, user_key=user_key[:160], claimed_at=now)
        if count != 1:
            raise DomainError("login_code_unknown", login_code=code.strip()[:12])

    @classmethod
    async def redeem_link(cls, raw: str, *, now: datetime) -> LoginToken:
        """Use a link once: a second use, an expired or unknown link is refused."""
        token = await cls.filter(kind="link", secret_hash=digest(raw or "")).first()
        if token is None:
            raise DomainError("login_link_unknown")
        count = await cls.filter(id=token.id, used_at__isnull=True, expires_at__gt=now).update(
            used_at=now
        )
        if count != 1:
            raise DomainError("login_link_used" if token.used_at else "login_link_expired")
        return token

    @classmethod
    async def redeem_code(cls, waiter: str, *, now: datetime) -> LoginToken | None:
        """The waiting page asks: has my code been sent in chat? Used once when it has."""
        token = (
            await cls.filter(
                kind="code",
                waiter_hash=digest(waiter),
                claimed_at__isnull=False,
                used_at__isnull=True,
                expires_at__gt=now,
            )
            .order_by("-id")
            .first()
        )
        if token is None:
            return None
        count = await cls.filter(id=token.id, used_at__isnull=True).update(used_at=now)
        return token if count == 1 else None


class WebSession(Model):
    """一次网页登录：哪台设备、从哪个地址、最后一次使用；本人可在会话页撤销。"""

    id = fields.IntField(primary_key=True)
    sid_hash = fields.CharField(max_length=64, unique=True)
    person = fields.ForeignKeyField(
        "models.Person", related_name="web_sessions", on_delete=fields.CASCADE
    )
    person_id: int  # the column tortoise adds, for type checkers
    user_key = fields.CharField(max_length=160, default="")
    device = fields.CharField(max_length=200, default="")
    address = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "web_session"
        indexes = (("person_id", "revoked_at"),)

    @classmethod
    async def open(
        cls,
        token: LoginToken,
        *,
        device: str,
        address: str,
        days: int,
        now: datetime,
    ) -> tuple[WebSession, str]:
        """A session for the person a redeemed token names; returns (row, session id)."""
        sid = secrets.token_urlsafe(32)
        row = await cls.create(
            sid_hash=digest(sid),
            person_id=token.person_id,
            user_key=token.user_key,
            device=device[:200],
            address=address[:64],
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(days=days),
        )
        return row, sid

    @classmethod
    async def live(cls, sid: str, *, now: datetime) -> WebSession | None:
        return await cls.filter(
            sid_hash=digest(sid), revoked_at__isnull=True, expires_at__gt=now
        ).first()

    async def touch(self, address: str, *, now: datetime) -> None:
        """Last used: written at most once a minute per session."""
        if now - self.last_used_at >= timedelta(minutes=1) or address != self.address:
            await WebSession.filter(id=self.id).update(last_used_at=now, address=address[:64])
            self.last_used_at, self.address = now, address[:64]

    @classmethod
    async def revoke(cls, person_id: int, session_id: int, *, now: datetime) -> bool:
        """Revoke one of the person's own sessions (never somebody else's)."""
        count = await cls.filter(
            id=session_id, person_id=person_id, revoked_at__isnull=True
        ).update(revoked_at=now)
        return count == 1


class AuditEntry(Model):
    """审计：党务工作者的每一次操作（聊天或网页）：谁、何时、做了什么、从哪里。只增不改。"""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    actor = fields.ForeignKeyField(
        "models.Person", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    actor_name = fields.CharField(max_length=64, default="")
    via = fields.CharField(max_length=8)  # chat / web / cli
    # chat: the chat key (platform:chat); web: the browser's address.
    source = fields.CharField(max_length=191, default="")
    action = fields.CharField(max_length=32, db_index=True)
    detail = fields.TextField(default="")

    class Meta:
        table = "audit_entry"
        indexes = (("actor_id", "at"),)

    @classmethod
    async def record(
        cls,
        *,
        actor_id: int | None,
        actor_name: str,
        via: str,
        source: str,
        action: str,
        detail: str,
        now: datetime,
    ) -> AuditEntry:
        return await cls.create(
            at=now,
            actor_id=actor_id,
            actor_name=actor_name[:64],
            via=via,
            source=source[:191],
            action=action[:32],
            detail=detail[:2000],
        )

    async def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self._saved_in_db:
            raise DomainError("audit_append_only")
        await super().save(*args, **kwargs)

    async def delete(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        raise DomainError("audit_append_only")
