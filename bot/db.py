"""数据库：tortoise 配置、连接、迁移（tortoise 自带的迁移工具）。

SQLite (WAL, tortoise's default pragma) is the embedded default; a
``postgres://`` URL runs on asyncpg.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.backends.sqlite.client import SqliteTransactionWrapper
from tortoise.exceptions import TransactionManagementError
from tortoise.migrations.api.migrate import migrate

from models import MODEL_MODULES

log = logging.getLogger("lianxin.db")


async def _begin_immediate(self: SqliteTransactionWrapper) -> None:
    """Our transactions always write. A deferred BEGIN that reads first cannot wait for
    another process's write lock (SQLite answers "database is locked" at once);
    BEGIN IMMEDIATE takes the lock up front and waits the busy timeout (5 s)."""
    try:
        await self._connection.commit()
        await self._connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise TransactionManagementError(exc) from exc


# tortoise has no setting for this; its own begin() differs only in the keyword.
SqliteTransactionWrapper.begin = _begin_immediate  # type: ignore[method-assign]


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgres://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite://")


def tortoise_config(url: str) -> dict[str, Any]:
    url = normalise_url(url)
    if is_sqlite(url):
        path = url[len("sqlite://") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "synchronous=" not in url:
            # WAL + NORMAL: a commit survives a crash of the process, only a power loss
            # can undo the last ones; FULL (SQLite's default) fsyncs on every commit.
            url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
    return {
        "connections": {"default": url},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(url: str) -> None:
    """Open the connections for this process (global, so every task sees them)."""
    # tortoise caches prepared INSERTs per connection *name*; a process that reopens
    # "default" on another engine (the test suite: SQLite, then PostgreSQL) must drop them.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def upgrade(url: str) -> None:
    """Apply pending migrations; safe to run again and again."""
    await init_db(url)
    try:
        await migrate(config=tortoise_config(url))
    finally:
        await Tortoise.close_connections()


async def ping() -> bool:
    try:
        await connections.get("default").execute_query("SELECT 1")
        return True
    except Exception:
        log.warning("database ping failed", exc_info=True)
        return False
