"""Upgrading a database that is in use: every migration must apply to tables that hold rows.

A fresh database never shows it, but an `AddField` of a NOT NULL column without a
database default fails on a table with rows ("Cannot add a NOT NULL column with default
value NULL"), and then `lianxin db upgrade` stops a real deployment. This walks the chain
one migration at a time and, before each, puts one row into every table that is empty.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest
from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate

from bot.db import MIGRATIONS_DIR, tortoise_config
from tests.conftest import _admin

MIGRATIONS = sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _value(sql_type: str) -> object:
    """A value any column of this type accepts; FKs point at id 1, which every table has."""
    t = sql_type.lower()
    if "bool" in t:
        return False
    if "int" in t or "serial" in t:
        return 1
    if "timestamp" in t or "datetime" in t:
        return "2026-01-01 00:00:00+00:00"
    if t == "date":
        return "2026-01-01"
    if "time" in t:
        return "08:00:00"
    if "json" in t:
        return "{}"
    if "uuid" in t:
        return "00000000-0000-0000-0000-000000000001"
    if "numeric" in t or "decimal" in t or "real" in t or "double" in t or "float" in t:
        return 0
    return "x"


def _fill_sqlite(path: Path) -> int:
    con = sqlite3.connect(path)
    filled = 0
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND name NOT LIKE 'sqlite_%' AND name != 'tortoise_migrations'"
            )
        ]
        for _ in range(len(tables)):  # FK order: retry until a pass adds nothing
            added = 0
            for table in tables:
                if con.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
                    continue
                cols = [
                    (r[1], r[2])
                    for r in con.execute(f'PRAGMA table_info("{table}")')
                    if r[3] or r[5]  # NOT NULL or primary key
                ]
                names = ", ".join(f'"{c}"' for c, _ in cols)
                marks = ", ".join("?" for _ in cols)
                try:
                    con.execute(
                        f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                        [_value(t) for _, t in cols],
                    )
                    con.commit()
                    added += 1
                except sqlite3.DatabaseError:
                    con.rollback()
            filled += added
            if not added:
                break
    finally:
        con.close()
    return filled


async def _fill_pg(url: str) -> int:
    con = await asyncpg.connect(url)
    filled = 0
    try:
        tables = [
            r["table_name"]
            for r in await con.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema='public' "
                "AND table_type='BASE TABLE' AND table_name != 'tortoise_migrations'"
            )
        ]
        for _ in range(len(tables)):
            added = 0
            for table in tables:
                if await con.fetchval(f'SELECT 1 FROM "{table}" LIMIT 1'):
                    continue
                cols = await con.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema='public' AND table_name=$1 "
                    "AND (is_nullable='NO')",
                    table,
                )
                names = ", ".join(f'"{c["column_name"]}"' for c in cols)
                values = ", ".join(
                    f"'{_value(c['data_type'])}'::{c['data_type']}"
                    if c["data_type"] != "boolean"
                    else "false"
                    for c in cols
                )
                try:
                    await con.execute(f'INSERT INTO "{table}" ({names}) VALUES ({values})')
                    added += 1
                except asyncpg.PostgresError:
                    pass
            filled += added
            if not added:
                break
    finally:
        await con.close()
    return filled


async def _migrate_to(url: str, name: str) -> None:
    try:
        await migrate(config=tortoise_config(url), target=f"models.{name}")
    finally:
        await Tortoise.close_connections()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_each_migration_applies_to_tables_with_rows(engine, tmp_path, pg_url):
    if engine == "sqlite":
        path = tmp_path / "old.sqlite3"
        url = f"sqlite://{path}"
    else:
        if not pg_url:
            pytest.skip("PostgreSQL not configured (set LIANXIN_TEST_PG_URL)")
        url = pg_url.rpartition("/")[0] + "/lianxin_upgrade_walk"
        await _admin('DROP DATABASE IF EXISTS "lianxin_upgrade_walk" WITH (FORCE)')
        await _admin('CREATE DATABASE "lianxin_upgrade_walk"')
    filled = 0
    try:
        for name in MIGRATIONS:
            await _migrate_to(url, name)  # fails here if a migration cannot meet rows
            filled += _fill_sqlite(path) if engine == "sqlite" else await _fill_pg(url)
    finally:
        if engine == "postgres":
            await _admin('DROP DATABASE IF EXISTS "lianxin_upgrade_walk" WITH (FORCE)')
    # The walk really put rows in front of the later migrations.
    assert filled >= 20


async def test_the_renamed_job_row_meets_a_row_of_its_new_name(tmp_path):
    """0016 renames the 回访 expiry job's row; a database that already has a row of the new
    name (served by a build of that change before the migration) upgrades all the same."""
    path = tmp_path / "jobs.sqlite3"
    url = f"sqlite://{path}"
    await _migrate_to(url, "0015_person_scope_indexes")
    with sqlite3.connect(path) as con:
        for job in ("request_followup.visit_expiry", "requests.visit_expiry"):
            con.execute(
                "INSERT INTO broadcast (job, rule, rule_text, audience, audience_ref, content,"
                " urgent, status, created_at) VALUES (?, 'every:60', '', 'job', ?, '', 0,"
                " 'active', '2026-11-30 00:00:00')",
                (job, job),
            )
    await _migrate_to(url, "0016_request_reminded")
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT job, status FROM broadcast ORDER BY id").fetchall()
    assert rows == [("request_followup.visit_expiry", "done"), ("requests.visit_expiry", "active")]
    # The usual case: the old row alone takes the new name.
    single = tmp_path / "one.sqlite3"
    await _migrate_to(f"sqlite://{single}", "0015_person_scope_indexes")
    with sqlite3.connect(single) as con:
        con.execute(
            "INSERT INTO broadcast (job, rule, rule_text, audience, audience_ref, content, urgent,"
            " status, created_at) VALUES ('request_followup.visit_expiry', 'every:60', '', 'job',"
            " 'request_followup.visit_expiry', '', 0, 'active', '2026-11-30 00:00:00')"
        )
    await _migrate_to(f"sqlite://{single}", "0016_request_reminded")
    with sqlite3.connect(single) as con:
        row = con.execute("SELECT job, audience_ref, status FROM broadcast").fetchone()
    assert row == ("requests.visit_expiry", "requests.visit_expiry", "active")
