"""The retention rule of dedup keys ([dedup] keep_days): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.events import dedup_cutoff

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_keys_older_than_keep_days_are_pruned():
    assert dedup_cutoff(NOW, 14) == NOW - timedelta(days=14)
    assert dedup_cutoff(NOW, 1) == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_zero_keeps_every_key():
    assert dedup_cutoff(NOW, 0) is None
