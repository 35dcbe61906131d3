"""Which failures mean "the database cannot be used now" (keep the message) and which are
bugs (apologise): bot.db.is_unavailable, and dedup's fixed-length keys."""

from __future__ import annotations

import sqlite3

import asyncpg
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

from bot.db import is_unavailable
from bot.dedup import stored_key


def chained(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


def test_outages_are_recognised_through_the_chain():
    for cause in (
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("attempt to write a readonly database"),
        sqlite3.OperationalError("database or disk is full"),
        sqlite3.OperationalError("disk I/O error"),
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
    ):
        assert is_unavailable(chained(TransactionManagementError(str(cause)), cause)), cause
        assert is_unavailable(cause), cause


def test_bugs_are_not_outages():
    for exc in (
        ValueError("bad"),
        KeyError("x"),
        IntegrityError("UNIQUE constraint failed"),
        chained(OperationalError("near x: syntax error"), sqlite3.OperationalError("syntax")),
    ):
        assert not is_unavailable(exc), exc


def test_over_long_keys_become_a_fixed_length_digest():
    assert stored_key("abc") == "abc"
    assert stored_key("x" * 191) == "x" * 191
    long_a, long_b = stored_key("x" * 300), stored_key("x" * 299 + "y")
    assert len(long_a) == len(long_b) == 71 and long_a != long_b
    assert stored_key("\ud800" * 200).startswith("sha256:")  # a lone surrogate too
