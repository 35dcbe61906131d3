"""数据库：tortoise 配置、连接、迁移（tortoise 自带的迁移工具）。

SQLite (WAL, tortoise's default pragma) is the embedded default; a
``postgres://`` URL runs on asyncpg.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import asyncpg.connection
from pypika_tortoise.context import SqlContext
from pypika_tortoise.functions import Count as PypikaCount
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.backends.sqlite.client import SqliteTransactionContext, SqliteTransactionWrapper
from tortoise.connection import get_connections
from tortoise.exceptions import DBConnectionError, TransactionManagementError
from tortoise.functions import Count
from tortoise.migrations.api.migrate import migrate
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models import MODEL_MODULES

log = logging.getLogger("lianxin.db")

M = TypeVar("M", bound=Model)


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


async def _enter_releasing(self: SqliteTransactionContext) -> Any:
    """tortoise's __aenter__ takes the connection's lock and then BEGINs; when BEGIN fails
    (another process held the write lock past the busy timeout) __aexit__ never runs, the
    lock stayed taken and every later query of the process hung. Release it on failure."""
    await self._trxlock.acquire()
    try:
        await self.ensure_connection()
        self.token = get_connections().set(self.connection_name, self.connection)
        try:
            await self.connection.begin()
        except BaseException:
            get_connections().reset(self.token)
            raise
    except BaseException:
        self._trxlock.release()
        raise
    return self.connection


SqliteTransactionContext.__aenter__ = _enter_releasing  # type: ignore[method-assign]

# What SQLite says when it cannot write now (locked, read-only, full, file gone) and
# asyncpg's classes for a server that is down, restarting, read-only or out of disk.
_SQLITE_UNAVAILABLE = re.compile(
    r"locked|readonly|read-only|disk is full|disk i/o|unable to open|no such table|malformed"
)
_UNAVAILABLE_TYPES = (
    DBConnectionError,
    ConnectionError,
    TimeoutError,
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.UndefinedTableError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database cannot be used right now,
    as opposed to a bug in a query or a handler."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE_TYPES):
            return True
        if isinstance(current, sqlite3.OperationalError | sqlite3.DatabaseError):
            return bool(_SQLITE_UNAVAILABLE.search(str(current).lower()))
        text = str(current).lower()
        if type(current).__module__.startswith("tortoise") and _SQLITE_UNAVAILABLE.search(text):
            return True
        current = current.__cause__ or current.__context__
    return False


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgres://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite://")


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for PostgreSQL and :memory:)."""
    url = normalise_url(url)
    if not is_sqlite(url):
        return None
    path = url[len("sqlite://") :].partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


class PooledConnection(asyncpg.connection.Connection):  # type: ignore[misc]
    """A pooled PostgreSQL connection given back without a reset query.

    asyncpg sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`
    each time a connection goes back to the pool: one more round trip for every query
    outside a transaction (a third of the statements the server ran under the mixed
    load). Nothing here leaves session state on a pooled connection (the leader's
    advisory lock has a connection of its own; no cursors, LISTEN or SET), and asyncpg
    still rolls back a transaction left open, with or without the query."""

    def get_reset_query(self) -> str:
        return ""


def placeholders(conn: Any, n: int, first: int = 1) -> list[str]:
    """`n` parameter marks for a written-out statement on `conn`: $first, $first+1, …
    on PostgreSQL (asyncpg), ? on SQLite."""
    if conn.capabilities.dialect == "postgres":
        return [f"${i}" for i in range(first, first + n)]
    return ["?"] * n


def prefix_values(prefix: str) -> list[str]:
    """The three parameters of prefix_match for the texts that start with `prefix`: the
    LIKE pattern (backslash, % and _ escaped, as tortoise's __startswith) and the
    byte-wise bounds [prefix, prefix with its last character's successor)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [escaped + "%", prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]


def prefix_match(column: str, marks: list[str], dialect: str = "postgres") -> str:
    """`column` starts with the prefix of prefix_values' three parameters. The LIKE
    decides; the bounds let an index serve it: on PostgreSQL the pattern index
    (migration 0022), in the plan it keeps for a prepared statement whichever prefix it
    is given; on SQLite the column's own (its LIKE uses none, being case-insensitive)."""
    like, low, high = marks
    ge, lt = ("~>=~", "~<~") if dialect == "postgres" else (">=", "<")
    return f"{column} LIKE {like} ESCAPE '\\' AND {column} {ge} {low} AND {column} {lt} {high}"


async def page_ids(
    query: QuerySet[M], order: tuple[str, ...], offset: int, limit: int
) -> list[int]:
    """The ids of one page of `query` in `order`, read from the narrow index entries."""
    page = query.order_by(*order).offset(offset).limit(limit)
    return [int(i) for i in await page.values_list("id", flat=True)]  # type: ignore[call-overload]


async def rows_in_order(model: type[M], ids: list[int], *related: str) -> list[M]:
    """The rows with these ids (and `related`), in the order of `ids`."""
    if not ids:
        return []
    found = {r.pk: r for r in await model.filter(id__in=ids).select_related(*related)}
    return [found[i] for i in ids if i in found]


class _CountOverAll(PypikaCount):
    is_aggregate = False  # a window, so tortoise adds no GROUP BY

    def get_function_sql(self, ctx: SqlContext) -> str:
        return f"{super().get_function_sql(ctx)} OVER ()"


class CountOverAll(Count):
    """`Count` (with `_filter`) of every row the query selects, on each row it returns:
    `COUNT(…) OVER ()`, computed before LIMIT/OFFSET, so a page's ids and the whole
    set's counts come in one statement."""

    database_func = _CountOverAll


async def page_rows(
    query: QuerySet[M], order: tuple[str, ...], offset: int, limit: int, *related: str
) -> list[M]:
    """One page of `query` in `order`: its ids first, then only those rows whole, so a
    deep page's OFFSET steps over narrow index entries, not joined wide rows."""
    ids = await page_ids(query, order, offset, limit)
    return await rows_in_order(query.model, ids, *related)


def driver_time(conn: Any, when: datetime) -> Any:
    """A datetime as the raw driver takes it (SQLite: the text tortoise writes)."""
    return when if conn.capabilities.dialect == "postgres" else when.isoformat(sep=" ")


def tortoise_config(url: str) -> dict[str, Any]:
    url = normalise_url(url)
    connection: str | dict[str, Any]
    if is_sqlite(url):
        path = url[len("sqlite://") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "synchronous=" not in url:
            # WAL + NORMAL: a commit survives a crash of the process, only a power loss
            # can undo the last ones; FULL (SQLite's default) fsyncs on every commit.
            url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
        connection = url
    else:
        connection = expand_db_url(url)
        connection["credentials"]["connection_class"] = PooledConnection
    return {
        "connections": {"default": connection},
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
        await analyze()
    finally:
        await Tortoise.close_connections()


async def analyze() -> None:
    """Refresh the query planner's statistics. Without them SQLite reads a scope filter
    (`org_id IN (SELECT …)`) as selective and walks a district's rows by org instead of
    the month's by date (100× slower). Sampled (analysis_limit), so it stays well under
    a second at district scale; PostgreSQL's autovacuum keeps its own, this only
    refreshes them after an upgrade. On PostgreSQL the database also gets
    random_page_cost 1.1 (data on SSD or in memory, as on the small servers this runs
    on): with the default 4 the planner reads all 100,000 people rather than look up the
    few hundred of a community (25–30 ms instead of 1–3 ms); a role that may not alter
    the database keeps the default."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        await conn.execute_script("PRAGMA analysis_limit=400; ANALYZE;")
        return
    await conn.execute_script(PG_PLANNER)
    await conn.execute_script("ANALYZE")


PG_PLANNER = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET random_page_cost = 1.1', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'random_page_cost left as it is (not the owner of the database)';
END $$;
"""


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "models" / "migrations"
UPGRADE_HINT = "请先运行 `lianxin db upgrade` / run `lianxin db upgrade` first"


async def schema_problem(url: str) -> str | None:
    """One line saying why this database cannot be served (missing, not migrated,
    unreachable), or None. Never creates an SQLite file."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return f"数据库文件不存在 / no database at {path.resolve()}: {UPGRADE_HINT}"
    expected = {p.stem for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")}
    try:
        await init_db(url)
        try:
            _, rows = await connections.get("default").execute_query(
                "SELECT name FROM tortoise_migrations WHERE app = 'models'"
            )
            applied = {r["name"] for r in rows}
        finally:
            await close_db()
    except Exception as exc:
        if not _no_table(exc):
            return f"数据库无法连接 / database unreachable ({exc}); check [database] url"
        applied = set()
    missing = sorted(expected - applied)
    if missing:
        return f"数据库结构未升级（缺 {missing[0]}）/ schema not migrated: {UPGRADE_HINT}"
    return None


def _no_table(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return isinstance(cause, asyncpg.exceptions.UndefinedTableError) or (
        "no such table" in str(exc).lower()
    )


async def ping() -> bool:
    try:
        await connections.get("default").execute_query("SELECT 1")
        return True
    except Exception:
        log.warning("database ping failed", exc_info=True)
        return False
