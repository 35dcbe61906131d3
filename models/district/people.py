"""The organisation tree, people with their identities and roles, member registrations,
check-ins (流入 / 在职 / 流出) and the groups bound to organisations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.checkin import FLOW_IN, FLOW_OUT, IN_SERVICE, CheckIn, MemberRegistration
from models.district.plan import CODE, GROUPS_PER, PLACES, STREETS, Plan
from models.people import GroupBinding, Identity, Organization, Person, RoleGrant


async def write(plan: Plan, sink: Any) -> None:
    await _orgs(plan, sink)
    await _people(plan, sink)
    await _groups(plan, sink)


def _org(plan: Plan, code: str, name: str, kind: str, parent: Organization | None) -> Organization:
    oid = len(plan.orgs) + 1
    path = f"{parent.path if parent else '/'}{oid}/"
    org = Organization(
        id=oid,
        code=code,
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        path=path,
        created_at=plan.now - timedelta(days=400),
    )
    plan.orgs.append(org)
    return org


async def _orgs(plan: Plan, sink: Any) -> None:
    plan.orgs = []
    district = _org(plan, CODE, "新区区委", "district", None)
    plan.streets_ = [
        _org(
            plan,
            f"{CODE}JD{i + 1:02d}",
            f"{STREETS[i % len(STREETS)]}{_nth(i, len(STREETS))}街道党工委",
            "street",
            district,
        )
        for i in range(plan.streets)
    ]
    plan.communities_ = []
    for i in range(plan.communities):
        street = plan.streets_[i % plan.streets]
        name = f"{PLACES[i % len(PLACES)]}{_nth(i, len(PLACES))}社区党委"
        plan.communities_.append(_org(plan, f"{CODE}SQ{i + 1:03d}", name, "community", street))
    plan.branches_ = []
    for i in range(plan.branches):
        community = plan.communities_[i % plan.communities]
        n = i // plan.communities + 1
        name = f"{community.name.removesuffix('党委')}第{n}党支部"
        plan.branches_.append(_org(plan, f"{CODE}ZB{i + 1:04d}", name, "branch", community))
    # Units requests are forwarded to (转单): two departments and a partner per street.
    plan.units = []
    for i, street in enumerate(plan.streets_):
        for j, (kind, word) in enumerate(
            (("department", "城管科"), ("department", "民政科"), ("partner", "志愿者协会"))
        ):
            code = f"{CODE}{'BM' if kind == 'department' else 'SH'}{i + 1:02d}{j}"
            plan.units.append(
                _org(plan, code, street.name.removesuffix("党工委") + word, kind, street)
            )
    for org in plan.orgs:
        await sink.add(org)
    await sink.flush()


def _nth(i: int, n: int) -> str:
    return "" if i < n else str(i // n + 1)


async def _people(plan: Plan, sink: Any) -> None:
    r, now = plan.rng, plan.now
    b = plan.branches
    # Member k belongs to branch k % b; ids 1..members are members, the rest residents.
    plan.member_ids = list(range(1, plan.members + 1))
    plan.resident_ids = list(range(plan.members + 1, plan.people + 1))
    plan.branch_of = {pid: plan.branches_[(pid - 1) % b] for pid in plan.member_ids}
    plan.officers_of = {}  # org id -> [person id]
    grants: list[tuple[int, str, Organization]] = []

    def officer(org: Organization, pid: int) -> None:
        plan.officers_of.setdefault(org.id, []).append(pid)
        grants.append((pid, "officer", org))

    for i, branch in enumerate(plan.branches_):
        officer(branch, i + 1)  # the first member of each branch is its secretary
    for c, community in enumerate(plan.communities_):
        mine = [i for i in range(b) if i % plan.communities == c][:2]
        for i in mine:
            officer(community, b + i + 1)
    for s, street in enumerate(plan.streets_):
        mine = [i for i in range(plan.communities) if i % plan.streets == s][:2]
        for i in mine:
            officer(street, 2 * b + i + 1)
    for i in range(min(3, b)):
        officer(plan.orgs[0], 3 * b + i + 1)
    plan.officer_ids = {pid for pids in plan.officers_of.values() for pid in pids}

    # Who flows: 60 % in (open check-in elsewhere), 15 % in service, 25 % out (left).
    flowing = r.sample(plan.member_ids, min(plan.flowing, plan.members))
    n_in, n_service = int(len(flowing) * 0.6), int(len(flowing) * 0.15)
    flow = {pid: FLOW_IN for pid in flowing[:n_in]}
    flow |= {pid: IN_SERVICE for pid in flowing[n_in : n_in + n_service]}
    flow |= {pid: FLOW_OUT for pid in flowing[n_in + n_service :]}
    plan.last_seen = {}
    plan.names = {}
    plan.member_info = {}
    checkin_id = 0
    for pid in range(1, plan.people + 1):
        member = pid <= plan.members
        created = now - timedelta(days=r.uniform(30, 700))
        name = plan.names[pid] = plan.name()
        fields: dict[str, Any] = {"display_name": name, "created_at": created}
        if member:
            branch = plan.branch_of[pid]
            # Most were in touch within three months; about one in eight is not.
            days = r.uniform(0, 85) if r.random() < 0.88 else r.uniform(91, 500)
            seen = now - timedelta(days=days)
            plan.last_seen[pid] = seen
            pocket = r.random() < 0.08
            mtype = "probationary" if r.random() < 0.06 else "full"
            plan.member_info[pid] = (mtype, pocket)
            fields |= {
                "real_name": fields["display_name"],
                "phone": plan.phone(pid),
                "home_org_id": branch.id,
                "home_branch": branch.name,
                "member_type": mtype,
                "relation_status": "unregistered" if pocket else "registered",
                "last_seen_at": seen,
            }
            kind = flow.get(pid)
            if kind is not None:
                community = r.choice(plan.communities_)
                checkin_id += 1
                at = seen - timedelta(days=r.uniform(0, 200))
                row: dict[str, Any] = {
                    "id": checkin_id,
                    "person_id": pid,
                    "org_id": community.id,
                    "kind": FLOW_IN if kind == FLOW_OUT else kind,
                    "chat": plan.target(pid, pid in plan.officer_ids),
                    "checked_in_at": at,
                }
                if kind == FLOW_OUT:
                    row |= {"left_at": seen, "destination": r.choice(STREETS) + "市"}
                    fields["flow_status"] = FLOW_OUT
                else:
                    row["open_key"] = f"{pid}:{community.id}"
                    fields |= {"flow_status": kind, "local_org_id": community.id}
                plan.pending_checkins = getattr(plan, "pending_checkins", [])
                plan.pending_checkins.append(row)
        elif r.random() < 0.3:
            fields["last_seen_at"] = now - timedelta(days=r.uniform(0, 300))
        await sink.add(Person(id=pid, **fields))
        onebot = plan.uses_onebot(pid, pid in plan.officer_ids)
        await sink.add(
            Identity(
                id=pid,
                person_id=pid,
                platform="onebot" if onebot else "wechat",
                user_id=plan.onebot_user(pid) if onebot else plan.wechat_user(pid),
                created_at=created,
            )
        )
    await sink.flush()

    grant_id = 0
    for pid in plan.member_ids:
        grants.append((pid, "member", plan.branch_of[pid]))
    for pid, role, org in grants:
        grant_id += 1
        await sink.add(
            RoleGrant(
                id=grant_id,
                person_id=pid,
                role=role,
                org_id=org.id,
                granted_by="district",
                created_at=now - timedelta(days=300),
            )
        )
    await _registrations(plan, sink)
    for row in getattr(plan, "pending_checkins", []):
        await sink.add(CheckIn(**row))


async def _registrations(plan: Plan, sink: Any) -> None:
    """Every member's confirmed 登记; some residents wait for an officer (pending)."""
    r, now = plan.rng, plan.now
    rid = 0

    def registration(
        pid: int, branch: Organization, at: datetime, **values: Any
    ) -> MemberRegistration:
        return MemberRegistration(
            id=rid,
            person_id=pid,
            org_id=branch.id,
            real_name=plan.names[pid],
            phone=plan.phone(pid),
            home_org_id=branch.id,
            created_at=at,
            updated_at=at,
            reply_target=plan.target(pid, pid in plan.officer_ids),
            **values,
        )

    for pid in plan.member_ids:
        branch = plan.branch_of[pid]
        rid += 1
        at = now - timedelta(days=r.uniform(100, 600))
        mtype, pocket = plan.member_info[pid]
        await sink.add(
            registration(
                pid,
                branch,
                at,
                member_type=mtype,
                relation_handed=not pocket,
                status="confirmed",
                decided_at=at + timedelta(hours=r.uniform(1, 72)),
                decided_by_id=plan.officers_of[branch.id][0],
            )
        )
    waiting = r.sample(plan.resident_ids, min(plan.pending_registrations, len(plan.resident_ids)))
    for k, pid in enumerate(waiting):
        branch = r.choice(plan.branches_)
        rid += 1
        at = now - timedelta(days=r.uniform(0, 20))
        if k % 4 == 3:  # one in four was turned back (驳回)
            decided = {
                "status": "rejected",
                "reason": "信息不全，请补充所在支部",
                "decided_at": at + timedelta(days=1),
                "decided_by_id": plan.officers_of[branch.id][0],
            }
        else:
            decided = {"status": "pending", "pending_key": str(pid)}
        await sink.add(registration(pid, branch, at, relation_handed=r.random() < 0.9, **decided))


async def _groups(plan: Plan, sink: Any) -> None:
    """Bound QQ groups: the district 10, each street 9, community 9, branch 4."""
    plan.groups_of = {}
    gid = 0
    for org in plan.orgs:
        for _ in range(GROUPS_PER.get(org.kind, 0)):
            gid += 1
            chat = plan.group_chat(gid)
            plan.groups_of.setdefault(org.id, []).append(f"onebot-group:{chat}")
            await sink.add(
                GroupBinding(
                    id=gid,
                    platform="onebot",
                    chat_id=chat,
                    org_id=org.id,
                    bound_by_id=(plan.officers_of.get(org.id) or [None])[0],
                    created_at=plan.now - timedelta(days=300),
                )
            )
