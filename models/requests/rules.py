"""订单式服务的纯规则：状态机（转移表）、时限的停表与续表、回访与满意度的算法。

No database and no clock here: every function takes what it needs (``now`` included),
so tests/unit/ checks them in milliseconds. The models (request.py, followup.py) feed
their conditional ``UPDATE … WHERE status IN (…)`` from `TRANSITIONS`.

接单 (received) → 做单 (in_progress) → [转单 (forwarded) → 做单]* → 回单 (closed) → 评价 (rated);
received / in_progress / awaiting → 退回 (rejected);
in_progress ─/待补充→ awaiting ─/补充→ in_progress   (the clock stops while awaiting);
closed / rated ─回访 3 (不满意)→ in_progress (reopened).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from models.errors import DomainError
from models.workdays import Limit, parse_limit, resume_due

STATUSES = ("received", "in_progress", "forwarded", "awaiting", "closed", "rated", "rejected")
# awaiting = 待补充: the handler asked the requester; the clock stops.
OPEN_STATUSES = ("received", "in_progress", "forwarded", "awaiting")
DONE_STATUSES = ("closed", "rated")
# Statuses whose clock runs (待补充 stops it).
RUNNING_STATUSES = ("received", "in_progress", "forwarded")
# Kinds of organisation a request may be forwarded to (转单对象).
FORWARD_KINDS = ("department", "partner")

# Who may take an action (ServiceRequest.check_actor).
OFFICER = (
    "officer"  # an officer of the request's organisation (or above), or of the unit holding it
)
HANDLER = (
    "handler"  # the officer handling it (or another responsible officer before anyone took it)
)
REQUESTER = "requester"  # the person who filed it
SUPERVISOR = "supervisor"  # an officer of an organisation above the request's, or an admin
SYSTEM = "system"  # the scheduled jobs


@dataclass(frozen=True, slots=True)
class Transition:
    """One action: the statuses it may start from, where it leads (None: the status
    stays, it is only recorded) and who may take it."""

    sources: tuple[str, ...]
    target: str | None
    actor: str


TRANSITIONS: dict[str, Transition] = {
    "accept": Transition(("received", "forwarded"), "in_progress", OFFICER),
    # 派单 straight from received (README's diagram); the deadline keeps running.
    "forward": Transition(("received", "in_progress"), "forwarded", OFFICER),
    "close": Transition(("in_progress", "awaiting"), "closed", OFFICER),
    "reject": Transition(("received", "in_progress", "awaiting"), "rejected", OFFICER),
    "rate": Transition(("closed",), "rated", REQUESTER),
    "ask": Transition(("in_progress",), "awaiting", HANDLER),
    "answer": Transition(("awaiting",), "in_progress", REQUESTER),
    "reopen": Transition(("closed", "rated"), "in_progress", REQUESTER),
    "urge": Transition(OPEN_STATUSES, None, REQUESTER),
    "supervise": Transition(OPEN_STATUSES, None, SUPERVISOR),
    "escalate": Transition(RUNNING_STATUSES, None, SYSTEM),
}


def transition(action: str) -> Transition:
    return TRANSITIONS[action]


def may(status: str, action: str) -> bool:
    """Whether `action` may start from `status`."""
    return status in TRANSITIONS[action].sources


def next_status(status: str, action: str) -> str:
    """The status after `action` from `status`; DomainError ``request_bad_state`` when the
    table has no such move (the number is filled in by the model)."""
    move = TRANSITIONS[action]
    if status not in move.sources:
        raise DomainError("request_bad_state", action=action, status=status)
    return move.target or status


def actions_from(status: str) -> list[str]:
    """Every action the table allows from `status` (in the table's order)."""
    return [action for action, move in TRANSITIONS.items() if status in move.sources]


# -- categories and limits ------------------------------------------------------------
# Category → time limit in hours (办理时限); bot/config.py [requests] may override.
CATEGORY_HOURS: dict[str, int] = {
    "repair": 72,
    "sanitation": 48,
    "legal": 120,
    "employment": 120,
    "elderly": 72,
    "other": 120,
}
DEFAULT_CATEGORY = "other"
# How long before the deadline the reminder goes out.
REMINDER_LEAD_HOURS = 12
LOW_SCORE = 2
MAX_CONTENT = 1000
# Defaults; bot/config.py [requests] overrides them.
VISIT_HOURS = 48.0
MAX_FORWARDS = 3


def required_text(text: str, action: str) -> str:
    """What an officer or the requester wrote for `action`, stripped; it may not be empty."""
    text = text.strip()
    if not text:
        raise DomainError("request_need_text", action=action)
    return text


def guess_category(text: str, keywords: Mapping[str, Iterable[str]]) -> str:
    """The category whose keywords appear most in `text` (first listed wins a tie)."""
    best, hits = DEFAULT_CATEGORY, 0
    for category, words in keywords.items():
        n = sum(1 for w in words if w and w in text)
        if n > hits:
            best, hits = category, n
    return best


def category_limits(
    defaults: Mapping[str, int],
    hours: Mapping[str, int],
    limits: Mapping[str, str],
    names: Mapping[str, str],
) -> dict[str, Limit]:
    """Category → time limit: the defaults, then [requests] hours, then [requests] limits
    ("3工作日"). A category may be named by its key (repair) or its Chinese name (维修)."""
    key_of = {name: key for key, name in names.items()}
    out = {key: parse_limit(value) for key, value in defaults.items()}
    for table in (hours, limits):
        for name, value in table.items():
            out[key_of.get(name, name)] = parse_limit(value)
    return out


# -- the clock: overdue, paused (待补充) and resumed ------------------------------------
def is_overdue(
    status: str,
    due_at: datetime,
    paused_at: datetime | None,
    closed_at: datetime | None,
    now: datetime,
) -> bool:
    """Open: past the due time (a paused clock stands still at `paused_at`); closed: it
    was closed after the due time."""
    if status in OPEN_STATUSES:
        return due_at < (paused_at or now)
    if closed_at is not None:
        return closed_at > due_at
    return False


def resume_changes(
    status: str, due_at: datetime, paused_at: datetime | None, workdays: bool, now: datetime
) -> dict[str, Any]:
    """The columns that restart a stopped clock at `now` (nothing when it runs): the
    time that was left when it stopped, counted from now."""
    if status != "awaiting" or paused_at is None:
        return {}
    return {"paused_at": None, "due_at": resume_due(due_at, paused_at, now, workdays)}


def reminder_kind(due_at: datetime, now: datetime) -> str:
    """Which deadline reminder a running request is due: ``overdue`` or ``due_soon``."""
    return "overdue" if due_at <= now else "due_soon"


def reminder_key(number: str, kind: str, target: str) -> str:
    """The delivery key of a deadline reminder (due_soon, overdue) or of 超期督办
    (escalate) to one target: each is sent once."""
    return f"req:{number}:{kind}:{target}"


# -- 回访 ------------------------------------------------------------------------------
VISIT_CHOICES = {1: "satisfied", 2: "basic", 3: "unsatisfied"}
VISIT_ANSWERS = tuple(VISIT_CHOICES.values())
SATISFIED = ("satisfied", "basic")


def visit_changes(now: datetime, hours: float) -> dict[str, Any]:
    """回单 starts a return visit: the requester has `hours` to answer."""
    return {"visit": "asked", "visit_due_at": now + timedelta(hours=hours), "visited_at": None}


def visit_choice(answer: str, words: Mapping[str, str] | None = None) -> int | None:
    """1 / 2 / 3, or the answer's words (`words`: the labels of VISIT_CHOICES' answers,
    满意 / 基本满意 / 不满意 from [request_labels.visit])."""
    a = answer.strip().rstrip("。.!！")
    if a in ("1", "2", "3"):
        return int(a)
    by_word = {(words or {}).get(v, ""): k for k, v in VISIT_CHOICES.items()}
    by_word.pop("", None)
    return by_word.get(a)


def visit_rates(events: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """回访率 and satisfaction from the (action, note) history of visits that ended:
    ``visit`` (answered; the note is the answer) or ``visit_none`` (未回访). Only answers
    count: a visit nobody answered lowers the answer rate, never the satisfaction."""
    ended = list(events)
    answers = [note for action, note in ended if action == "visit"]
    return visit_shares(len(ended), len(answers), sum(a in SATISFIED for a in answers))


def visit_shares(ended: int, answered: int, satisfied: int) -> dict[str, Any]:
    """visit_rates from the counts: visits ended, answered, answered with SATISFIED."""
    return {
        "visits_answered": answered,
        "visits_ended": ended,
        "visit_rate_pct": round(100 * answered / ended, 1) if ended else None,
        "satisfied_pct": round(100 * satisfied / answered, 1) if answered else None,
    }


def closing_figures(
    n: int, on_time: int, rated: int, score_sum: int | None, hours: float | None
) -> dict[str, Any]:
    """党务公开's rates from the month's counts: on-time share, mean hours, mean score."""
    return {
        "closed": n,
        "on_time_pct": round(100 * on_time / n, 1) if n else None,
        "avg_hours": round(float(hours), 1) if n and hours is not None else None,
        "avg_score": round((score_sum or 0) / rated, 2) if rated else None,
        "rated": rated,
    }
