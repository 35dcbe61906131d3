"""/发布活动 的对话：声明的步骤、存储的键（升级后进行中的对话还能接着答）、每步的解析。"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from bot.templates import Templates
from handlers.activities.publish import Publish, read_hours, read_place
from models.errors import DomainError

LABELS = Templates().commands["activity_labels"]


def ctx(**data):
    """What the parsers read: the service's labels (through the runtime) and the dialog."""
    runtime = SimpleNamespace(templates=SimpleNamespace(commands={"activity_labels": LABELS}))
    return SimpleNamespace(runtime=runtime, dialog=SimpleNamespace(data=data))


def test_the_stored_keys_are_those_of_before():
    """Open dialogs are stored as ("publish", step name): the names must not change."""
    assert Publish.key == "publish" and Publish.ask == "act_ask"
    assert [s.name for s in Publish.steps] == [
        "title",
        "kind",
        "start",
        "end",
        "place",
        "capacity",
        "audience",
        "hours",
        "deadline",
    ]
    assert all(s.parse is not None for s in Publish.steps)


@pytest.mark.parametrize(
    ("step", "answer", "value"),
    [
        ("title", "十一月党课", "十一月党课"),
        ("kind", "4", "lecture"),
        ("kind", "党小组会", "group_meeting"),
        ("kind", "volunteer", "volunteer"),
        ("capacity", "30人", 30),
        ("capacity", "不限", 0),
        ("audience", "党员", "members"),
        ("audience", "3", "everyone"),
    ],
)
def test_parsers(step, answer, value):
    assert getattr(Publish, step).parse(ctx(), answer) == value


@pytest.mark.parametrize(
    ("step", "answer", "code"),
    [
        ("title", "x" * 61, "act_bad_title"),
        ("kind", "9", "act_bad_kind"),
        ("capacity", "很多", "act_bad_capacity"),
        ("capacity", "10001", "act_bad_capacity"),
        ("audience", "外星人", "act_bad_audience"),
        ("hours", "25", "act_bad_hours"),
        ("place", "x" * 201, "act_one_line"),
    ],
)
def test_a_refused_answer_asks_the_same_step_again(step, answer, code):
    with pytest.raises(DomainError) as info:
        getattr(Publish, step).parse(ctx(), answer)
    assert info.value.code == code


def test_skip_words():
    assert read_hours(ctx(), "无") == Decimal("0") and read_hours(ctx(), "1.5") == Decimal("1.5")
    assert read_place(ctx(), "党群服务中心") == "党群服务中心"
    assert Publish.deadline.parse(ctx(starts_at=datetime(2030, 1, 1, tzinfo=UTC)), "跳过") is None
