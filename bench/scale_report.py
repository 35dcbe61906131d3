"""The table of `make bench-scale`: one row per command, a column group per database."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime

GOAL_MS = 50.0  # every command's p99 at S = 1.0
MIXED_GOAL_MS = 100.0  # member messages under the mixed load


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) in ms; 0 when there is nothing."""
    if not values:
        return 0.0
    s = sorted(values)
    return 1000 * s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def _one_and_n(f: dict, cell: Callable[[tuple, float], str]) -> str:
    """`cell(cores busy, req/s)` of the one-process load and of the N-process one."""
    pairs = (("cores", "rps"), ("multi_cores", "multi_rps"))
    return " / ".join(text for c, r in pairs if c in f and f.get(r) and (text := cell(f[c], f[r])))


def _per_bot_core(cores: tuple, rps: float) -> str:
    return f"{rps / cores[0]:.0f}" if cores[0] else ""


class Report:
    def __init__(self, scale: float, clock: str = "") -> None:
        self.scale, self.clock = scale, clock  # clock: where the bot's started (ISO 8601)
        self.data: dict = {"scale": scale, "cases": {}, "footprint": {}, "jobs": {}}
        self.engines: list[str] = []

    def _engine(self, engine: str) -> None:
        if engine not in self.engines:
            self.engines.append(engine)

    def add_case(self, engine, who, label, times, errors, sample, cpu_ms=0.0) -> None:
        self._engine(engine)
        row = self.data["cases"].setdefault(f"{who}|{label}", {})
        row[engine] = {
            "p50": pct(times, 50),
            "p95": pct(times, 95),
            "p99": pct(times, 99),
            "n": len(times),
            "errors": errors,
            "sample": sample[:80],
            "cpu_ms": cpu_ms,
        }

    def add_footprint(self, engine, start_s, idle_mb, mix, db_mb) -> None:
        self._engine(engine)
        self.data["footprint"][engine] = {
            "start_s": start_s,
            "idle_mb": idle_mb,
            "db_mb": db_mb,
            **mix,
        }

    def add_jobs(self, engine, jobs) -> None:
        self.data["jobs"][engine] = {k: {"s": s, "pushes": n} for k, (s, n) in jobs.items()}

    def render(self) -> str:
        e = self.engines
        head = (
            "| who | command | "
            + " | ".join(f"{x} p50 / p95 / p99 ms (n) · server CPU ms" for x in e)
            + " |"
        )
        lines = [
            f"# bench-scale: district S = {self.scale:g}",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.node()} · "
            f"{os.cpu_count()} cores · load average {os.getloadavg()[0]:.1f} at the end · "
            f"the bot's clock from {self.clock or 'now'}",
            "",
            head,
            "|---|---|" + "---|" * len(e),
        ]
        for key, row in self.data["cases"].items():
            who, label = key.split("|", 1)
            cells = []
            for x in e:
                c = row.get(x)
                if c is None:
                    cells.append("")
                    continue
                flag = " ✗" if c["p99"] >= GOAL_MS or c["errors"] else ""
                err = f" {c['errors']} err" if c["errors"] else ""
                cells.append(
                    f"{c['p50']:.0f} / {c['p95']:.0f} / {c['p99']:.0f} ({c['n']}){err}{flag}"
                    f" · {c.get('cpu_ms', 0):.1f}"
                )
            lines.append(f"| {who} | `{label}` | " + " | ".join(cells) + " |")
        lines += ["", "| measure | " + " | ".join(e) + " |", "|---|" + "---|" * len(e)]
        fp = self.data["footprint"]
        rows = [
            ("mixed load: req/s", "rps", "{:.0f}"),
            ("mixed: member p50 ms", "member_p50", "{:.0f}"),
            ("mixed: member p99 ms (goal < 100)", "member_p99", "{:.0f}"),
            ("mixed: officer view p99 ms", "officer_p99", "{:.0f}"),
            ("mixed: requests / errors", None, None),
            ("mixed: server CPU ms per request", "cpu_ms", "{:.1f}"),
            ("mixed: cores busy — bot / generator / rest (database)", "cores", None),
            ("mixed: generator CPU ms per request (one / N processes)", "gen_ms", None),
            ("mixed while every job fires: req/s", "jobs_rps", "{:.0f}"),
            ("… member p99 ms (goal < 100)", "jobs_member_p99", "{:.0f}"),
            ("… officer view p99 ms", "jobs_officer_p99", "{:.0f}"),
            ("… job pushes delivered meanwhile", "jobs_pushes", "{:,}"),
            ("mixed, N processes alternately: req/s", "multi_rps", "{:.0f}"),
            ("mixed, N processes: member p99 ms / errors", "multi", None),
            ("mixed, N processes: cores busy — bots / generator / rest", "multi_cores", None),
            ("mixed: req/s per busy core of the bots (one / N processes)", "per_core", None),
            ("start-up to /healthz 200 s", "start_s", "{:.2f}"),
            ("idle RSS MB", "idle_mb", "{:.0f}"),
            ("RSS peak under load MB", "rss_peak", "{:.0f}"),
            ("database MB", "db_mb", "{:.0f}"),
        ]
        for title, key, fmt in rows:
            cells = []
            for x in e:
                f = fp.get(x, {})
                if key == "multi":
                    multi = "multi_member_p99" in f
                    cells.append(
                        f"{f['multi_member_p99']:.0f} / {f['multi_errors']} "
                        f"(N = {f['processes']}, {f['multi_rps'] / f['rps']:.2f}× one)"
                        if multi
                        else ""
                    )
                elif key == "gen_ms":  # the load generator's own cost, measurement overhead
                    cells.append(_one_and_n(f, lambda cores, rps: f"{1000 * cores[1] / rps:.3f}"))
                elif key == "per_core":  # flat: each process as fast, the machine's cores the cap
                    cells.append(_one_and_n(f, _per_bot_core))
                elif key in ("cores", "multi_cores"):
                    cells.append(" / ".join(f"{c:.2f}" for c in f[key]) if key in f else "")
                elif key is None:
                    cells.append(f"{f.get('n', 0)} / {f.get('errors', 0)}" if f else "")
                else:
                    cells.append(fmt.format(f[key]) if key in f else "")
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
        jobs = self.data["jobs"]
        names = sorted({n for j in jobs.values() for n in j})
        for name in names:
            cells = []
            for x in e:
                j = jobs.get(x, {}).get(name)
                cells.append(f"{j['s']:.2f} s, {j['pushes']} pushes" if j else "")
            lines.append(f"| job tick `{name}` | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
