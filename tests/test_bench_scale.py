"""The scale benchmark at a tiny district (S = 0.01, SQLite): every case is sent through
the real server and answered, without errors; the table is written (a few seconds)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from datetime import UTC

from bench import scale
from bot.clock import ENV_NOW, parse_now


def test_bench_scale_smoke(tmp_path):
    # The bench's clock (its default, late in a month): the district is generated
    # around it and the server starts on it, so what the server wrote is after it.
    started = parse_now(scale.NOW).astimezone(UTC).isoformat(sep=" ")
    before = os.environ.get(ENV_NOW)
    out = tmp_path / "scale.md"
    argv = ["--scale", "0.01", "--db", "sqlite", "--samples", "2", "--mixed-seconds", "1"]
    assert scale.main([*argv, "--results", str(tmp_path), "--out", str(out)]) == 0
    # …and it is this process's no longer: servers the next tests start run on theirs.
    assert os.environ.get(ENV_NOW) == before
    data = json.loads(out.with_suffix(".json").read_text("utf-8"))
    cases = data["cases"]
    assert len(cases) >= 50
    failed = {k: c["sqlite"]["sample"] for k, c in cases.items() if c["sqlite"]["errors"]}
    assert failed == {}
    stats = cases["officer/district|/党员统计"]["sqlite"]["sample"]
    assert stats.startswith("党员情况")
    assert cases["member|/签到"]["sqlite"]["sample"].startswith("签到成功")
    assert cases["resident|/登记 · 是"]["sqlite"]["n"] == 2
    foot = data["footprint"]["sqlite"]
    assert foot["n"] > 0 and foot["errors"] == 0 and foot["idle_mb"] > 0
    # The second mixed load ran with every job due; the writes' notices reached the fake.
    assert foot["jobs_rps"] > 0 and "jobs_pushes" in foot
    db = sqlite3.connect(tmp_path / "scale-run-sqlite" / "run.sqlite3")
    try:
        made = "FROM delivery WHERE created_at > ? GROUP BY status"
        outcomes = dict(db.execute(f"SELECT status, count(*) {made}", (started,)).fetchall())
    finally:
        db.close()
    assert outcomes.get("sent", 0) > 0 and not {"failed", "refused"} & set(outcomes), outcomes
    text = out.read_text("utf-8")
    assert f"the bot's clock from {scale.NOW}" in text
    assert "| officer/street | `/三会一课` |" in text
    assert re.search(
        r"\| mixed: generator CPU ms per request \(one / N processes\) \| \d+\.\d{3} \|", text
    )
