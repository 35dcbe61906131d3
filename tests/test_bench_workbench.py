"""The workbench benchmark at a tiny district (S = 0.01, SQLite): it logs in as an
officer through `lianxin admin login-link`, times the overview and the queue (each must
answer 200), and writes its table (a few seconds)."""

from __future__ import annotations

import os

from bench import workbench
from bot.clock import ENV_NOW


def test_bench_workbench_smoke(tmp_path):
    before = os.environ.get(ENV_NOW)
    out = tmp_path / "workbench.md"
    argv = ["--scale", "0.01", "--db", "sqlite", "--scopes", "community", "--rounds", "2"]
    argv += ["--only", "overview,requests", "--results", str(tmp_path), "--out", str(out)]
    assert workbench.main(argv) == 0
    assert os.environ.get(ENV_NOW) == before  # the bench's clock ended with it
    table = out.read_text("utf-8")
    # Every page answered 200 (the bench asserts it), each a row of the table.
    assert "community officer" in table, table
    assert "| overview |" in table and "| requests all last |" in table, table
