"""A month of 订单式服务 (1,000 requests a day at S = 1.0) with every state's event chain
and ratings, the deliveries that traffic caused, and officers' scheduled broadcasts."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from bot.clock import local
from models.broadcasts import Broadcast
from models.deliveries import Delivery
from models.district.plan import Plan
from models.requests import CATEGORY_HOURS, RequestCounter, RequestEvent, ServiceRequest

CONTENT = {
    "repair": "楼道灯坏了，晚上很黑，麻烦尽快修一下",
    "sanitation": "小区垃圾站满了两天没人清运",
    "legal": "租房押金不退，想咨询法律援助",
    "employment": "孩子毕业想找工作，有没有招聘信息",
    "elderly": "独居老人需要每周上门探访",
    "other": "建议小区增加电动车充电桩",
}
# The state a request of this age (days) has reached, with weights.
STATES = ("received", "in_progress", "forwarded", "awaiting", "closed", "rated", "rejected")
WEIGHTS = {
    0: (35, 30, 10, 5, 10, 5, 5),
    2: (5, 12, 5, 3, 35, 30, 10),
    7: (1, 2, 1, 1, 35, 50, 10),
}


def _weights(age_days: float) -> tuple[int, ...]:
    return WEIGHTS[7] if age_days >= 7 else WEIGHTS[2] if age_days >= 2 else WEIGHTS[0]


async def write(plan: Plan, sink: Any) -> None:
    await _requests(plan, sink)
    await _broadcasts(plan, sink)


class _Deliveries:
    def __init__(self, plan: Plan, sink: Any) -> None:
        self.plan, self.sink, self.id = plan, sink, 0

    async def add(self, key: str, target: str, text: str, purpose: str, at: datetime) -> None:
        r = self.plan.rng
        self.id += 1
        failed = r.random() < 0.03
        await self.sink.add(
            Delivery(
                id=self.id,
                target=target,
                platform=target.split(":", 1)[0].split("-")[0],
                purpose=purpose,
                dedup_key=f"{key}:{target}"[:191],
                text=text,
                status="failed" if failed else "sent",
                error_code=45015 if failed else None,
                reason="response out of time limit" if failed else "",
                attempts=1,
                created_at=at,
                finished_at=at + timedelta(seconds=1),
            )
        )


async def _requests(plan: Plan, sink: Any) -> None:
    r, now = plan.rng, plan.now
    out = _Deliveries(plan, sink)
    out.id = await _next_id(Delivery) - 1
    units = plan.units
    counters: dict[str, int] = {}
    event_id = 0
    everyone = plan.member_ids + plan.resident_ids
    for rid in range(1, plan.requests + 1):
        # Evenly over the last `request_days` days, oldest first.
        created = now - timedelta(days=plan.request_days * (1 - (rid - 0.5) / plan.requests))
        day = local(created).strftime("%y%m%d")
        counters[day] = counters.get(day, 0) + 1
        number = f"Q{day}{counters[day]:04d}"
        requester = r.choice(everyone)
        org = r.choice(plan.communities_) if r.random() < 0.7 else r.choice(plan.branches_)
        category = r.choice(list(CATEGORY_HOURS))
        age = (now - created).total_seconds() / 86400
        state = r.choices(STATES, _weights(age))[0]
        officer = plan.officers_of[org.id][0]
        requester_target = plan.target(requester, requester in plan.officer_ids)
        span = (now - created) * 0.9
        steps = _steps(state, r)
        times = sorted(created + span * r.random() for _ in steps)
        row: dict[str, Any] = {
            "id": rid,
            "number": number,
            "org_id": org.id,
            "requester_id": requester,
            "category": category,
            "content": CONTENT[category],
            "place": f"{org.name}辖区",
            "contact": plan.phone(requester),
            "status": state,
            "reply_target": requester_target,
            "created_at": created,
            "due_at": created + timedelta(hours=CATEGORY_HOURS[category]),
        }
        events = [("filed", "", "received", requester, created, "")]
        status = "received"
        for action, at in zip(steps, times, strict=True):
            target = {
                "accept": "in_progress",
                "forward": "forwarded",
                "close": "closed",
                "rate": "rated",
                "reject": "rejected",
                "ask": "awaiting",
                "urge": status,
            }[action]
            actor = requester if action in ("rate", "urge") else officer
            note = ""
            if action == "accept":
                row |= {"handler_id": officer, "accepted_at": at}
            elif action == "forward":
                row["assignee_org_id"] = units[(org.id + rid) % len(units)].id
                note = "请协助办理"
            elif action == "close":
                row |= {"result": "已处理完毕，感谢反映", "closed_at": at}
                note = row["result"]
            elif action == "reject":
                row |= {"result": "不属于本社区办理范围", "rejected_at": at}
                note = row["result"]
            elif action == "rate":
                score = r.choices((5, 4, 3, 2, 1), (60, 25, 8, 4, 3))[0]
                row |= {
                    "score": score,
                    "rating_comment": "满意" if score > 3 else "太慢了",
                    "rated_at": at,
                }
                note = f"{score} {row['rating_comment']}"
            elif action == "ask":  # 待补充: the clock stops
                row["paused_at"] = at
                note = "请补充具体楼栋和联系时间"
            elif action == "urge":
                row |= {"urge_count": row.get("urge_count", 0) + 1, "last_urged_at": at}
            events.append((action, status, target, actor, at, note))
            status = target
        row["status"] = status
        await sink.add(ServiceRequest(**row))
        for action, before, after, actor, at, note in events:
            event_id += 1
            await sink.add(
                RequestEvent(
                    id=event_id,
                    request_id=rid,
                    action=action,
                    from_status=before,
                    to_status=after,
                    actor_id=actor,
                    chat=requester_target
                    if actor == requester
                    else (plan.groups_of.get(org.id) or [""])[0],
                    note=note,
                    created_at=at,
                    org_id=row.get("assignee_org_id") if action == "forward" else None,
                )
            )
        for group in plan.groups_of.get(org.id, [])[:1]:
            await out.add(f"req:{number}:new", group, f"新诉求 {number}", "request", created)
        for i, (action, _, _, _, at, _) in enumerate(events):
            if action in ("accept", "close", "reject"):
                await out.add(
                    f"req:{number}:{action}{i}",
                    requester_target,
                    f"您的诉求 {number} 有新进展",
                    "request",
                    at,
                )
    for key, target, text, purpose, at in plan.pushes:
        await out.add(key, target, text, purpose, at)
    for day, seq in counters.items():
        await sink.add(RequestCounter(day=day, seq=seq))
    plan.delivery_id = out.id


async def _next_id(model: Any) -> int:
    last = await model.all().order_by("-id").first()
    return (last.id if last else 0) + 1


def _steps(state: str, r: random.Random) -> list[str]:
    """The actions that lead from received to `state` (an urge now and then)."""
    path = {
        "received": [],
        "in_progress": ["accept"],
        "forwarded": ["accept", "forward"],
        "awaiting": ["accept", "ask"],
        "closed": ["accept", "close"],
        "rated": ["accept", "close", "rate"],
        "rejected": ["reject"] if r.random() < 0.5 else ["accept", "reject"],
    }[state]
    if state in ("received", "in_progress", "forwarded", "awaiting") and r.random() < 0.2:
        path = [*path, "urge"]
    if state in ("in_progress", "closed", "rated") and r.random() < 0.15:
        path = ["accept", "forward", *path]  # forwarded first, then the unit took it on
    return path


async def _broadcasts(plan: Plan, sink: Any) -> None:
    """Weekly notices scheduled by street and community officers."""
    r, now = plan.rng, plan.now
    orgs = plan.streets_ + plan.communities_
    # A server may have started on this database already: its jobs' rows come first.
    first = await _next_id(Broadcast)
    for bid in range(first, first + plan.broadcasts):
        org = orgs[bid % len(orgs)]
        hour = r.randint(0, 3)  # 08:00–11:00 local
        nxt = (now + timedelta(days=r.randint(1, 7))).replace(
            hour=hour, minute=0, second=0, microsecond=0
        )
        await sink.add(
            Broadcast(
                id=bid,
                org_id=org.id,
                created_by_id=plan.officers_of[org.id][0],
                rule=f"cron:0 {hour + 8} * * {r.randint(1, 5)}",
                rule_text="每周",
                audience="org_groups",
                audience_ref=str(org.id),
                content="本周{{ org }}组织生活安排请查看 /活动",  # {{ org }}: the name
                status="active",
                next_fire_at=nxt,
                created_at=now - timedelta(days=r.uniform(1, 90)),
            )
        )
