"""bot/memo.py: a value is fresh from when it was worked out until ttl later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.memo import Memo

T0 = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_fresh_for_the_ttl_then_gone_and_never_from_the_future():
    memo = Memo(4)
    memo.put("k", 7, T0)
    assert memo.get("k", T0, MINUTE) == (7, T0)
    assert memo.get("k", T0 + MINUTE - timedelta(seconds=1), MINUTE) == (7, T0)
    assert memo.get("k", T0 + MINUTE, MINUTE) is None
    assert memo.get("k", T0 - timedelta(seconds=1), MINUTE) is None  # a clock set back
    assert memo.get("other", T0, MINUTE) is None


def test_the_oldest_goes_first_when_full():
    memo = Memo(2)
    memo.put("a", 1, T0)
    memo.put("b", 2, T0 + timedelta(seconds=1))
    memo.put("a", 3, T0 + timedelta(seconds=2))  # a key already kept takes no room
    memo.put("c", 4, T0 + timedelta(seconds=3))
    assert memo.get("b", T0 + timedelta(seconds=3), MINUTE) is None
    assert memo.get("a", T0 + timedelta(seconds=3), MINUTE) == (3, T0 + timedelta(seconds=2))
    assert memo.get("c", T0 + timedelta(seconds=3), MINUTE) == (4, T0 + timedelta(seconds=3))
    memo.clear()
    assert memo.get("c", T0 + timedelta(seconds=3), MINUTE) is None
