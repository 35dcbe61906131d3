"""PostgreSQL's pooled connections go back to the pool without asyncpg's reset query
(bot/db.PooledConnection), and still never hand a transaction to the next user."""

from __future__ import annotations

import pytest
from tortoise import Tortoise

from bot.db import PooledConnection
from models.people import Organization


async def test_a_connection_given_back_mid_transaction_is_rolled_back(db):
    if db.startswith("sqlite://"):
        pytest.skip("PostgreSQL's pool only")
    await Organization.all().count()  # the pool opens on first use
    pool = Tortoise.get_connection("default")._pool
    conn = await pool.acquire()
    assert isinstance(conn._con, PooledConnection)
    assert conn.get_reset_query() == ""  # no extra round trip per release
    await conn.execute("BEGIN")
    await conn.execute(
        "INSERT INTO organization (code, name, kind, path, created_at) "
        "VALUES ('LOST', '半途', 'community', '/x/', now())"
    )
    assert conn.is_in_transaction()
    await pool.release(conn)  # as a cancelled task would leave it

    for _ in range(pool.get_size() + 1):  # whichever connection the pool gives next
        again = await pool.acquire()
        try:
            assert not again.is_in_transaction()
        finally:
            await pool.release(again)
    assert not await Organization.filter(code="LOST").exists()
    org = await Organization.create_in_tree("KEPT", "留下", "community")  # the pool works on
    assert await Organization.filter(id=org.id).exists()
