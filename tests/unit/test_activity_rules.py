"""候补确认期限、临时取消、价格、库存、调整数额：纯规则，没有数据库。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models.claims import parse_signed_hours, parse_signed_points
from models.errors import DomainError
from models.redemption import parse_price, parse_stock
from models.waitlist import is_late_cancel, offer_deadline

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("left", "window", "deadline"),
    [
        (48 * H, 12, 12 * H),  # far from the start: the whole window
        (12 * H, 12, 6 * H),  # close to the start: half of the time left
        (H, 12, H / 2),
        (-H, 12, timedelta(0)),  # already started: no time at all
    ],
)
def test_offer_deadline(left, window, deadline):
    assert offer_deadline(NOW, NOW + left, window) == NOW + deadline


def test_late_cancel():
    assert is_late_cancel(NOW, NOW + H, 2)
    assert not is_late_cancel(NOW, NOW + 2 * H, 2)
    assert not is_late_cancel(NOW, NOW + H, 0)


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("2小时", (Decimal("2.0"), None)),
        ("1.5h", (Decimal("1.5"), None)),
        ("50积分", (None, 50)),
        ("８分", (None, 8)),
    ],
)
def test_parse_price(text, price):
    assert parse_price(text) == price


@pytest.mark.parametrize("text", ["2", "0小时", "1.5积分", "abc", "0分", "2天"])
def test_parse_price_refuses(text):
    with pytest.raises(DomainError) as info:
        parse_price(text)
    assert info.value.code == "catalogue_bad_price"


def test_parse_stock():
    assert parse_stock(None) is None and parse_stock("20") == 20 and parse_stock("５件") == 5
    for bad in ("0", "-1", "很多"):
        with pytest.raises(DomainError):
            parse_stock(bad)


def test_signed_adjustments():
    assert parse_signed_points("+5") == 5 and parse_signed_points("-3分") == -3
    assert parse_signed_points("10") == 10
    assert parse_signed_hours("-1.5") == Decimal("-1.5") and parse_signed_hours("+2小时") == 2
    for bad in ("0", "+0", "5000", "x"):
        with pytest.raises(DomainError):
            parse_signed_points(bad)
    with pytest.raises(DomainError):
        parse_signed_hours("0")
