"""bench.scale_load.merge: slices of one mixed load added up into one set of figures;
bench.scale_db.pg_database: the run databases' URLs; bench.run_report's verdicts, round by round."""

from __future__ import annotations

import pytest

from bench.scale_load import merge


def part(member, officer, took, cores, errors=0, peak=100.0):
    return {
        "lat": {"member": member, "officer": officer},
        "took": took,
        "errors": errors,
        "peak": peak,
        "cores": cores,
    }


def test_slices_add_up_and_cores_weigh_by_length():
    a = part([0.001] * 30, [0.2] * 10, 1.0, (0.9, 0.1, 0.3), errors=1, peak=120.0)
    b = part([0.003] * 90, [0.4] * 30, 3.0, (0.5, 0.05, 0.7), errors=2, peak=110.0)
    got = merge([a, b])
    assert got["n"] == 160 and got["took"] == 4.0
    assert got["rps"] == pytest.approx(40.0)
    assert got["errors"] == 3 and got["rss_peak"] == 120.0
    assert got["cores"] == pytest.approx(((0.9 + 1.5) / 4, (0.1 + 0.15) / 4, (0.3 + 2.1) / 4))
    assert got["member_p50"] == pytest.approx(3.0)  # 90 of the 120 member latencies
    assert got["officer_p99"] == pytest.approx(400.0)
    # merging the merged result again changes nothing
    again = merge([got])
    assert again["n"] == 160 and again["cores"] == pytest.approx(got["cores"])


def test_run_databases_keep_the_servers_url_a_unix_socket_included():
    from bench.scale_db import pg_database

    tcp = "postgres://postgres@127.0.0.1:5432/lianxin_test"
    assert pg_database(tcp, "lianxin_scale_1_0_run") == (
        "postgres://postgres@127.0.0.1:5432/lianxin_scale_1_0_run"
    )
    socket = "postgres://postgres@/lianxin_test?host=/run/postgresql&port=5433"
    assert (
        pg_database(socket, "postgres")
        == "postgres://postgres@/postgres?host=/run/postgresql&port=5433"
    )


def test_a_stalled_slice_moves_one_rounds_ratio_not_the_verdict():
    from bench.run_report import GOALS, Cell, paired_ratios, verdicts

    bot, ref, bar, _ = GOALS[2]  # OneBot against bare aiohttp, no p99 cap
    # five rounds of 1 s each; in round 4 the bot's slice was stalled (a third of its rate)
    ours = Cell(ok=0, seconds=5.0, slices=[(600, 1.0)] * 3 + [(200, 1.0), (600, 1.0)])
    theirs = Cell(ok=0, seconds=5.0, slices=[(1000, 1.0)] * 5)
    ours.ok, theirs.ok = sum(n for n, _ in ours.slices), sum(n for n, _ in theirs.slices)
    assert paired_ratios(ours, theirs) == [0.6, 0.6, 0.6, 0.2, 0.6]
    line = verdicts({(bot, 64): ours, (ref, 64): theirs}, {bot, ref}, 64, {})[0]
    assert line.startswith(f"PASS  {bot} / {ref} @ 64: 60% (≥ {bar:.0%}, no errors;")
    assert "median of the rounds 60% 60% 60% 20% 60%; whole run 520 vs 1,000 req/s" in line
    # (summed over the run: 52 %). Slow in most rounds, the bot fails.
    ours.slices[1] = ours.slices[2] = (200, 1.0)
    assert verdicts({(bot, 64): ours, (ref, 64): theirs}, {bot, ref}, 64, {})[0].startswith("FAIL")
