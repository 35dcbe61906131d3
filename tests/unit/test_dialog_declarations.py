"""Declared dialogs (bot/dialogs.py) and the registry's checks at start, without a database."""

from __future__ import annotations

import asyncio

import pytest

from bot.dialogs import Dialog, Step, step_handler
from bot.registry import Registry, Router
from models.errors import DomainError


def _digits(ctx, answer: str) -> int:
    if not answer.isdigit():
        raise DomainError("not_digits", answer=answer)
    return int(answer)


class Order(Dialog, key="test_order", ask="order_ask"):
    size = Step(parse=_digits)
    colour = Step()


def test_steps_are_declared_in_order_with_their_dialog():
    assert [s.name for s in Order.steps] == ["size", "colour"]
    assert Order.size.key == ("test_order", "size") and Order.colour.dialog is Order
    assert Order.step("colour") is Order.colour and Order.step("shape") is None
    assert Dialog.declared["test_order"] is Order


def test_a_dialog_without_steps_is_refused_at_declaration():
    with pytest.raises(TypeError, match="declares no steps"):

        class Empty(Dialog, key="test_empty"):
            pass


async def _noop(ctx):
    return None


def test_registry_refuses_a_step_without_handler():
    router = Router("t")
    router.step(Order.size)(_noop)
    with pytest.raises(ValueError, match="'test_order': no handler for colour"):
        Registry([router])


def test_registry_refuses_a_step_with_two_handlers():
    a, b = Router("a"), Router("b")
    for r in (a, b):
        r.step(Order.size)(_noop)
    a.step(Order.colour)(_noop)
    with pytest.raises(ValueError, match="test_order:size has two handlers"):
        Registry([a, b])


class _Ctl:
    def __init__(self) -> None:
        self.asked: list[dict] = []

    def question(self, step, **variables):
        self.asked.append({"step": step.name, **variables})
        return "again"


class _Ctx:
    def __init__(self, rest: str) -> None:
        self.rest, self.answer, self.dialog = rest, None, _Ctl()

    def refusal(self, err: DomainError) -> str:
        return f"refused:{err.code}"


def test_a_parsers_refusal_asks_the_same_step_and_skips_the_handler():
    seen: list[int] = []

    async def handler(ctx):
        seen.append(ctx.answer)
        return "next"

    run = step_handler(Order.size, handler)
    bad = _Ctx(" x1 ")
    assert asyncio.run(run(bad)) == "again" and seen == []
    assert bad.dialog.asked == [
        {"step": "size", "invalid": True, "error": "refused:not_digits", "answer": "x1"}
    ]
    good = _Ctx(" 12 ")
    assert asyncio.run(run(good)) == "next" and seen == [12]


def test_a_step_without_parser_runs_its_handler_as_is():
    assert step_handler(Order.colour, _noop) is _noop
