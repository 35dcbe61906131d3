"""谁可以对一张诉求做什么：负责的党务工作者、提出人、上级组织（督办）；谁可以看（/进度）。

`Access` is mixed into `ServiceRequest` (request.py); the actor of each action is the
transition table's (rules.TRANSITIONS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from models.errors import DomainError
from models.requests.rules import HANDLER, OFFICER, REQUESTER, SUPERVISOR, transition

if TYPE_CHECKING:
    from models.people import Organization
    from models.requests.request import ServiceRequest


class CallerLike(Protocol):
    person_id: int | None
    is_admin: bool

    def is_officer_of(self, org: Any) -> bool: ...
    def officer_orgs(self) -> list[Any]: ...


class Access:
    # Declared on ServiceRequest; listed here for readers and type checkers.
    number: str
    status: str
    org: Organization
    requester_id: int
    assignee_org: Organization | None
    assignee_org_id: int | None

    @classmethod
    async def by_number(cls, number: str) -> ServiceRequest: ...  # ServiceRequest's

    @classmethod
    async def for_action(cls, number: str, action: str, caller: CallerLike) -> ServiceRequest:
        """The request numbered `number`, if `caller` may take `action` on it (the table's
        actor: a responsible officer, the requester or a supervising officer)."""
        req = await cls.by_number(number)
        req.check_actor(action, caller)
        return req

    # -- who may act ------------------------------------------------------------
    def check_actor(self, action: str, caller: CallerLike) -> None:
        actor = transition(action).actor
        if actor in (OFFICER, HANDLER):
            self.check_officer(caller)
        elif actor == REQUESTER:
            self.check_requester(caller.person_id)
        elif actor == SUPERVISOR:
            self.check_supervisor(caller)

    def responsible_orgs(self) -> list[Organization]:
        """The request's organisation, plus the unit it was forwarded to (if any)."""
        orgs = [self.org]
        if self.assignee_org_id is not None:
            orgs.append(self.assignee_org)
        return orgs

    def holder(self) -> Organization:
        """The unit working on it now: the one it was forwarded to, else its own."""
        return self.assignee_org if self.status == "forwarded" else self.org

    def check_officer(self, caller: CallerLike) -> None:
        """Officers of the request's org or above it, or of the unit it was forwarded to."""
        if not any(caller.is_officer_of(o) for o in self.responsible_orgs()):
            raise DomainError("request_not_your_scope", number=self.number, org_name=self.org.name)

    def check_requester(self, person_id: int | None) -> None:
        if person_id is None or person_id != self.requester_id:
            raise DomainError("request_not_requester", number=self.number)

    def check_viewer(self, caller: CallerLike) -> None:
        """/进度: the requester, or an officer responsible for it."""
        if self.requester_id != caller.person_id:
            self.check_officer(caller)

    def check_supervisor(self, caller: CallerLike) -> None:
        """An officer of an organisation above the request's (or an admin) may 督办."""
        above = [
            o
            for o in caller.officer_orgs()
            if self.org.path.startswith(o.path) and o.path != self.org.path
        ]
        if not (above or caller.is_admin):
            raise DomainError("request_not_supervisor", number=self.number)
