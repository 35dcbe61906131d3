"""订单式服务的纯规则，不用数据库：状态机表、停表与续表、超时、提醒的种类、回访与满意度、党务公开的比率。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.errors import DomainError
from models.requests.rules import (
    CATEGORY_HOURS,
    DONE_STATUSES,
    OFFICER,
    OPEN_STATUSES,
    REQUESTER,
    RUNNING_STATUSES,
    STATUSES,
    SUPERVISOR,
    TRANSITIONS,
    actions_from,
    category_limits,
    closing_figures,
    guess_category,
    is_overdue,
    may,
    next_status,
    reminder_key,
    reminder_kind,
    required_text,
    resume_changes,
    visit_changes,
    visit_choice,
    visit_rates,
)
from models.workdays import Limit

# Friday 4 December 2026, 10:00 in Beijing.
T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)
WORDS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}


# -- the state machine -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "action", "after"),
    [
        ("received", "accept", "in_progress"),
        ("forwarded", "accept", "in_progress"),
        ("received", "forward", "forwarded"),  # 派单 straight from received
        ("in_progress", "forward", "forwarded"),
        ("in_progress", "close", "closed"),
        ("awaiting", "close", "closed"),
        ("received", "reject", "rejected"),
        ("awaiting", "reject", "rejected"),
        ("closed", "rate", "rated"),
        ("in_progress", "ask", "awaiting"),
        ("awaiting", "answer", "in_progress"),
        ("closed", "reopen", "in_progress"),
        ("rated", "reopen", "in_progress"),
        ("forwarded", "urge", "forwarded"),  # recorded, the status stays
        ("awaiting", "supervise", "awaiting"),
    ],
)
def test_allowed_moves(status, action, after):
    assert may(status, action)
    assert next_status(status, action) == after


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("in_progress", "accept"),  # taken already
        ("closed", "accept"),
        ("forwarded", "forward"),  # accept it first
        ("received", "close"),  # accept first: a request is closed only after it was taken
        ("forwarded", "close"),
        ("closed", "reject"),
        ("forwarded", "reject"),
        ("in_progress", "rate"),
        ("rated", "rate"),  # once
        ("received", "ask"),
        ("in_progress", "answer"),
        ("in_progress", "reopen"),
        ("closed", "urge"),
        ("rejected", "supervise"),
        ("awaiting", "escalate"),  # a stopped clock is not overdue
    ],
)
def test_refused_moves(status, action):
    assert not may(status, action)
    with pytest.raises(DomainError) as info:
        next_status(status, action)
    assert info.value.code == "request_bad_state"
    assert info.value.details == {"action": action, "status": status}


def test_the_table_is_closed_and_says_who():
    for move in TRANSITIONS.values():
        assert set(move.sources) <= set(STATUSES)
        assert move.target is None or move.target in STATUSES
    # nothing leaves 退回; a finished request only comes back through 回访 3
    assert actions_from("rejected") == []
    assert actions_from("closed") == ["rate", "reopen"]
    assert set(actions_from("received")) == {
        "accept",
        "forward",
        "reject",
        "urge",
        "supervise",
        "escalate",
    }
    assert {a for a, m in TRANSITIONS.items() if m.actor == REQUESTER} == {
        "rate",
        "answer",
        "reopen",
        "urge",
    }
    assert TRANSITIONS["accept"].actor == OFFICER and TRANSITIONS["supervise"].actor == SUPERVISOR
    assert set(RUNNING_STATUSES) < set(OPEN_STATUSES) and not set(OPEN_STATUSES) & set(
        DONE_STATUSES
    )


def test_required_text():
    assert required_text("  修好了 ", "close") == "修好了"
    with pytest.raises(DomainError) as info:
        required_text(" \n", "reject")
    assert (info.value.code, info.value.details) == ("request_need_text", {"action": "reject"})


# -- the clock ---------------------------------------------------------------------------
def test_overdue_open_paused_and_closed():
    due = T0 + 72 * H
    assert not is_overdue("in_progress", due, None, None, due)
    assert is_overdue("in_progress", due, None, None, due + H)
    # 待补充: the clock stood still when it paused, however long the requester takes
    assert not is_overdue("awaiting", due, due - H, None, due + 30 * 24 * H)
    assert is_overdue("awaiting", due, due + H, None, due + 2 * H)
    # closed: late if closed after the due time, whenever asked
    assert not is_overdue("closed", due, None, due, due + 99 * H)
    assert is_overdue("rated", due, None, due + H, T0)
    assert not is_overdue("rejected", due, None, None, due + 99 * H)


def test_resume_gives_back_the_time_that_was_left():
    due = T0 + 48 * H
    assert resume_changes("in_progress", due, None, False, T0) == {}  # the clock runs
    # paused after 10 hours with 38 left; answered 3 days later: 38 hours from then
    paused, answered = T0 + 10 * H, T0 + 82 * H
    assert resume_changes("awaiting", due, paused, False, answered) == {
        "paused_at": None,
        "due_at": answered + 38 * H,
    }
    # already overdue when it paused: asking the requester does not excuse it
    late = due + H
    assert resume_changes("awaiting", due, late, False, late + 5 * H)["due_at"] == due


def test_resume_in_working_days_skips_the_weekend():
    # 3 working days from Friday 10:00 end on Wednesday 10:00; paused Friday 12:00 with
    # two days and 22 hours of working time left, answered Saturday: Monday 00:00 + that
    due = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)
    paused = T0 + 2 * H
    answered = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)  # Saturday 14:00
    monday = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)  # Monday 00:00 in Beijing
    changes = resume_changes("awaiting", due, paused, True, answered)
    assert changes["due_at"] == monday + timedelta(days=2, hours=22)


def test_reminder_kind_and_key():
    due = T0 + 72 * H
    assert reminder_kind(due, due - H) == "due_soon"
    assert reminder_kind(due, due) == "overdue"
    assert reminder_key("Q2612040001", "overdue", "console:g1") == (
        "req:Q2612040001:overdue:console:g1"
    )


def test_categories_and_limits():
    words = {"repair": ["漏水", "水管"], "sanitation": ["垃圾"]}
    assert guess_category("水管漏水了", words) == "repair"
    assert guess_category("今天天气好", words) == "other"
    limits = category_limits(
        CATEGORY_HOURS, {"维修": 24}, {"legal": "3工作日"}, {"repair": "维修", "legal": "法律"}
    )
    assert limits["repair"] == Limit(24.0)
    assert limits["legal"] == Limit(3.0, workdays=True)
    assert limits["other"] == Limit(120.0)


# -- 回访 and 党务公开 ------------------------------------------------------------------------
def test_visit_opens_for_hours():
    assert visit_changes(T0, 48) == {
        "visit": "asked",
        "visit_due_at": T0 + 48 * H,
        "visited_at": None,
    }


@pytest.mark.parametrize(
    ("text", "choice"),
    [("1", 1), (" 3。", 3), ("2!", 2), ("满意", 1), ("基本满意", 2), ("不满意！", 3), ("4", None)],
)
def test_visit_choice(text, choice):
    assert visit_choice(text, WORDS) == choice


def test_visit_choice_words_come_from_the_labels():
    assert visit_choice("满意") is None  # no vocabulary given: digits only
    assert visit_choice("good", {"satisfied": "good"}) == 1


def test_visit_rates_count_only_answers_as_satisfaction():
    events = [
        ("visit", "satisfied"),
        ("visit", "unsatisfied"),
        ("visit_none", ""),
        ("visit", "basic"),
    ]
    assert visit_rates(events) == {
        "visits_answered": 3,
        "visits_ended": 4,
        "visit_rate_pct": 75.0,
        "satisfied_pct": 66.7,
    }
    # nobody answered: no satisfaction at all, never 100 %
    assert visit_rates([("visit_none", "")])["satisfied_pct"] is None
    assert visit_rates([])["visit_rate_pct"] is None


def test_closing_figures():
    assert closing_figures(4, 3, 2, 7, 30.25) == {
        "closed": 4,
        "on_time_pct": 75.0,
        "avg_hours": 30.2,
        "avg_score": 3.5,
        "rated": 2,
    }
    assert closing_figures(0, 0, 0, None, None) == {
        "closed": 0,
        "on_time_pct": None,
        "avg_hours": None,
        "avg_score": None,
        "rated": 0,
    }
