"""谁可以用一条命令：角色对象，用 | 和 & 组合（NoneBot2 的做法）。bot.registry 转出这些名字。"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.identity import Caller, OrgView


class Permission:
    """Who may use a command. `check` sees the caller and the chat's organisation, and
    must depend on nothing but `caller.roles` and `org` (the menu is memoized on them)."""

    label = ""

    def check(self, caller: Caller, org: OrgView | None) -> bool:
        raise NotImplementedError

    def __or__(self, other: Permission) -> Permission:
        return _Any(self, other)

    def __and__(self, other: Permission) -> Permission:
        return _All(self, other)


@dataclass(frozen=True)
class Role(Permission):
    """At least `role`. For officers: of the chat's organisation when the chat is bound."""

    role: str

    @property
    def label(self) -> str:  # type: ignore[override]
        return self.role

    def check(self, caller: Caller, org: OrgView | None) -> bool:
        if self.role == "officer":
            if caller.is_admin:
                return True
            if org is not None:
                return caller.is_officer_of(org)
            return bool(caller.officer_orgs())
        return caller.has_role(self.role)


@dataclass(frozen=True)
class _Any(Permission):
    a: Permission
    b: Permission

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"{self.a.label}|{self.b.label}"

    def check(self, caller: Caller, org: OrgView | None) -> bool:
        return self.a.check(caller, org) or self.b.check(caller, org)


@dataclass(frozen=True)
class _All(Permission):
    a: Permission
    b: Permission

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"{self.a.label}&{self.b.label}"

    def check(self, caller: Caller, org: OrgView | None) -> bool:
        return self.a.check(caller, org) and self.b.check(caller, org)


EVERYONE = Role("resident")
MEMBER = Role("member")
OFFICER = Role("officer")
ADMIN = Role("admin")
