"""make bench's results: what one target did at one concurrency (Cell), the goals and
their verdicts round by round, and the table printed and written to
bench/results/latest.md."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bench.servers import REPO

if TYPE_CHECKING:
    from bench.run import Target


@dataclass
class Cell:
    """What one target did at one concurrency, summed over the rounds."""

    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    bench_cpu: float = 0.0
    machine_cpu: float = 0.0  # every process on the machine
    first_error: str = ""
    # (correct replies, seconds) of each slice, in round order: the goals compare the
    # bot and its reference round by round (bench/README.md, "Verdicts")
    slices: list[tuple[int, float]] = field(default_factory=list)

    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def cpu_per_request(self) -> float:
        """Server CPU µs per correct reply: what the server costs, whoever is the bottleneck."""
        return 1e6 * self.server_cpu / self.ok if self.ok else float("nan")

    def other_cpu(self) -> float:
        """CPU the rest of the machine used meanwhile (other jobs: noise in this cell)."""
        return max(0.0, self.machine_cpu - self.server_cpu - self.bench_cpu)

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000


# (bot target, reference target, minimum ratio of requests/s at the top concurrency, p99 cap ms)
GOALS = [
    ("lianxin wechat plain", "wechatpy-only plain", 0.50, 30.0),
    ("lianxin wechat safe", "wechatpy-only safe", 0.50, 30.0),
    ("lianxin onebot", "bare aiohttp", 0.45, None),
]


HEAD = ["target", "conc", "req/s", "p50 ms", "p99 ms", "errors"]
HEAD += ["server CPU", "µs/req", "bench CPU", "other CPU"]


def row(name: str, conc: int, cell: Cell | None, why: str) -> list[str]:
    if cell is None or not cell.seconds:
        return [name, str(conc), "—", "—", "—", why, "", "", "", ""]
    return [
        name,
        str(conc),
        f"{cell.rps():,.0f}",
        f"{cell.pct(0.50):.2f}",
        f"{cell.pct(0.99):.2f}",
        str(cell.errors),
        f"{100 * cell.server_cpu / cell.seconds:.0f} %",
        f"{cell.cpu_per_request():.0f}",
        f"{100 * cell.bench_cpu / cell.seconds:.0f} %",
        f"{100 * cell.other_cpu() / cell.seconds:.0f} %",
    ]


def paired_ratios(bot: Cell, ref: Cell) -> list[float]:
    """The bot's req/s over its reference's, round by round: the two slices of a round
    ran seconds apart, so a burst of load from elsewhere on the machine that hits
    one slice moves one round's ratio, not the median of them."""
    return [
        (b_ok / b_s) / (r_ok / r_s)
        for (b_ok, b_s), (r_ok, r_s) in zip(bot.slices, ref.slices, strict=False)
        if b_s > 0 and r_s > 0 and r_ok > 0
    ]


def verdicts(cells: dict[tuple[str, int], Cell], names: set[str], top: int, missing: dict) -> list:
    out = []
    for bot, ref, ratio, p99_cap in GOALS:
        if bot not in names:
            continue
        b, r = cells.get((bot, top)), cells.get((ref, top))
        if b is None or r is None or not r.rps():
            why = missing.get(bot) or missing.get(ref) or "not run"
            out.append(f"----  {bot} / {ref} @ {top}: not measured ({why})")
            continue
        rounds = paired_ratios(b, r)
        got = statistics.median(rounds) if rounds else b.rps() / r.rps()
        ok = got >= ratio and b.errors == 0
        cond = f"≥ {ratio:.0%}, no errors"
        if p99_cap is not None:
            ok = ok and b.pct(0.99) < p99_cap
            cond += f", p99 < {p99_cap:.0f} ms (got {b.pct(0.99):.1f} ms)"
        each = " ".join(f"{x:.0%}" for x in rounds)
        out.append(
            f"{'PASS' if ok else 'FAIL'}  {bot} / {ref} @ {top}: {got:.0%} ({cond}; "
            f"median of the rounds {each}; whole run "
            f"{b.rps():,.0f} vs {r.rps():,.0f} req/s; server CPU "
            f"{b.cpu_per_request():.0f} vs {r.cpu_per_request():.0f} µs/req)"
        )
    return out


def report(
    cells: dict[tuple[str, int], Cell],
    targets: list[Target],
    concurrencies: list[int],
    missing: dict[str, str],
    args: argparse.Namespace,
) -> tuple[str, str]:
    """(plain-text table for the terminal, Markdown for bench/results/latest.md)"""
    rows = [
        row(t.name, c, cells.get((t.name, c)), missing.get(t.name, "not run"))
        for t in targets
        for c in concurrencies
    ]
    goals = verdicts(cells, {t.name for t in targets}, max(concurrencies), missing)
    measured = sum(c.seconds for c in cells.values()) or 1.0
    busy = sum(c.other_cpu() for c in cells.values()) / measured
    if busy > 0.2:
        goals.append(
            f"NOISY other processes used {busy:.0%} of a core on average while measuring: "
            "expect these numbers to move a lot; run again on a quiet machine"
        )
    errors = [f"{n} @ {c}: {x.first_error}" for (n, c), x in cells.items() if x.first_error]
    widths = [max(len(r[i]) for r in [HEAD, *rows]) for i in range(len(HEAD))]
    text = "\n".join(
        [
            *("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in [HEAD, *rows]),
            "",
            *goals,
            *(["", "first error per cell:", *errors] if errors else []),
        ]
    )
    md = "\n".join(
        [
            "# 连心 benchmark",
            "",
            f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z} · commit {_git_rev()} · "
            f"{os.cpu_count()} cores · Python {platform.python_version()} · "
            f"{args.requests} requests or {args.seconds:g} s per cell in {args.rounds} "
            "alternating slices, after a warm-up",
            "",
            "| " + " | ".join(HEAD) + " |",
            "|" + "|".join("---" for _ in HEAD) + "|",
            *("| " + " | ".join(r) + " |" for r in rows),
            "",
            *(f"- {v}" for v in goals),
            *(["", "First error per cell:", "", *(f"- {e}" for e in errors)] if errors else []),
            "",
            LEGEND,
            "",
        ]
    )
    return text, md


LEGEND = (
    "req/s counts correct replies only; errors are transport failures plus wrong replies. "
    "CPU columns are shares of one core while the cell was measured: the server process (all "
    "threads), the load generator, and everything else on the machine (noise). µs/req is server "
    "CPU per correct reply, which does not depend on who was the bottleneck. When bench CPU is "
    "near 100 % the generator, not the server, limited the row. See bench/README.md."
)


def _git_rev() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, timeout=5
        )
        return out.stdout.decode().strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"
