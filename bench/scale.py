"""make bench-scale: every command at district scale, through the real server.

    python -m bench.scale [--scale 1.0] [--db sqlite,postgres] [--samples 20]

Seeds (or reuses) a district of scale S (models/district) for each database, copies it
for the run, starts `lianxin serve` on 127.0.0.1 and measures over OneBot: p50/p95/p99
of each command a member, a resident and officers of a community, a street and the
district use (one message at a time), then a mixed load (80 % member messages, 20 %
officer views, `--clients` at once), the footprint (start-up, RSS, database size) and
one tick of every scheduled job. One table is printed and written to
bench/results/scale.md. Generator, server and jobs run on one clock, `--now`
(LIANXIN_NOW; by default a Friday at the end of a month, when a month's figures are
at their fullest: run on the 2nd, "this month" held two days of the points).
Bounded: each case by `--case-seconds`, the mixed load by `--mixed-seconds`;
PostgreSQL needs --pg-url (or LIANXIN_TEST_PG_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

from bench import scale_cases
from bench.fanout import TOKEN as API_TOKEN
from bench.keepalive import KeepAlive
from bench.payloads import ONEBOT_SECRET, WECHAT_APPID
from bench.scale_db import (
    db_size_mb,
    dedup_backlog,
    hold_jobs,
    now,
    prepare_postgres,
    prepare_sqlite,
    sent_since,
    time_jobs,
)
from bench.scale_load import TIMEOUT_S, merge, mixed, rss_mb, send
from bench.scale_report import Report
from bench.servers import (
    PYTHON,
    REPO,
    Servers,
    bench_clock,
    current_clock,
    free_port,
    lianxin_cmd,
)
from bot.clock import ENV_NOW

RESULTS = REPO / "bench" / "results"
# The bench's clock (LIANXIN_NOW for every process it starts): the district is generated
# around it, so the templates carry its date in their names.
NOW = "2026-11-27T10:00:00+08:00"
WECHAT_SECRET = "bench-wechat-secret"


def config_file(
    workdir: Path, url: str, port: int, onebot_api: str = "", wechat_api: str = ""
) -> Path:
    """Notices and job pushes go to the fake OneBot and WeChat APIs when given (the
    district's people are on both); no quiet hours, so that what a job sends is sent
    whatever the hour of the run; the leader looks for due jobs every second."""
    path = workdir / "lianxin.toml"
    text = (
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n\n[database]\nurl = "{url}"\n\n'
        f'[console]\nenabled = false\n\n[onebot]\nenabled = true\nsecret = "{ONEBOT_SECRET}"\n'
    )
    if onebot_api:
        text += f'api_url = "{onebot_api}"\naccess_token = "{API_TOKEN}"\n'
    if wechat_api:
        text += (
            f'\n[wechat]\nenabled = true\ntoken = "bench"\nappid = "{WECHAT_APPID}"\n'
            f'secret = "{WECHAT_SECRET}"\napi_base = "{wechat_api}"\n'
        )
    text += '\n[broadcasts]\ntick_seconds = 1\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
    path.write_text(text, "utf-8")
    return path


def serve_fake_wechat(port: int) -> None:
    """Child process: the fake api.weixin.qq.com on 127.0.0.1:port."""
    from aiohttp import web

    from tests.fakes.wechat_api import FakeWechatAPI

    fake = FakeWechatAPI(WECHAT_APPID, WECHAT_SECRET)
    web.run_app(fake.app, host="127.0.0.1", port=port, print=None, access_log=None)


async def wait_listening(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return


# -- measuring ----------------------------------------------------------------------------
async def run_cases(conn, server, world, report: Report, engine: str, seconds: float) -> None:
    for case in world.cases:
        started = time.perf_counter()
        steps = case.steps or (case.label,)
        times: dict[str, list[float]] = {s: [] for s in steps}
        errors, replies = 0, {}
        if not case.write:  # one untimed message first (caches, connections)
            await send(conn, case.samples[0][0])
        # The server's own CPU per message: unlike wall time, barely moved by other
        # work on the machine (the database server's CPU is not in it).
        cpu0 = server.cpu_seconds()
        for sample in case.samples:
            if time.perf_counter() - started > seconds and len(times[steps[0]]) >= 3:
                break
            for step, msg in zip(steps, sample, strict=True):
                elapsed, reply = await send(conn, msg)
                times[step].append(elapsed)
                replies.setdefault(step, reply)
                errors += reply.startswith("!")
            if reply == "!timeout":
                break
        sent = sum(len(t) for t in times.values())
        cpu_ms = 1000 * (server.cpu_seconds() - cpu0) / max(sent, 1)
        for step in steps:
            label = case.label if not case.steps else f"{case.label} · {step}"
            report.add_case(
                engine, case.who, label, times[step], errors, replies.get(step, ""), cpu_ms
            )


# -- one database -------------------------------------------------------------------------
async def bench_engine(engine: str, args: argparse.Namespace, report: Report) -> None:
    workdir = args.results / f"scale-run-{engine}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    if engine == "sqlite":
        url = await prepare_sqlite(args.scale, workdir)
    else:
        url = await prepare_postgres(args.scale, args.pg_url)
    await hold_jobs(url, due=False)
    await dedup_backlog(url, args.scale)
    world = await scale_cases.build(url, args.samples, now())
    if args.only:  # iterate on a few commands: keep the cases whose "who label" matches
        world.cases = [c for c in world.cases if any(o in f"{c.who} {c.label}" for o in args.only)]
    port, onebot_port, wechat_port = free_port(), free_port(), free_port()
    onebot_api, wechat_api = (f"http://127.0.0.1:{p}" for p in (onebot_port, wechat_port))
    cfg = config_file(workdir, url, port, onebot_api, wechat_api)
    with Servers(workdir) as servers:
        for name, fake in (
            ("onebot-api", f"from bench.fanout import _serve_fake; _serve_fake({onebot_port})"),
            ("wechat-api", f"from bench.scale import serve_fake_wechat as s; s({wechat_port})"),
        ):
            fake_port = onebot_port if name == "onebot-api" else wechat_port
            servers.start(name, [PYTHON, "-c", fake], fake_port, REPO)
            await wait_listening(fake_port)
        t0 = time.perf_counter()
        server = servers.start(
            "lianxin", [*lianxin_cmd(), "serve", "--config", str(cfg)], port, workdir
        )
        servers.wait_ready(server, timeout=60)
        start_s = time.perf_counter() - t0
        await asyncio.sleep(1)
        idle = rss_mb(server.proc.pid)
        conn = KeepAlive(server.base, TIMEOUT_S)
        try:
            await run_cases(conn, server, world, report, engine, args.case_seconds)
        finally:
            conn.close()
        # several processes, one database: started now, idle while one process is measured
        procs = [server]
        several = engine == "postgres" and args.processes > 1 and args.mixed_seconds > 0
        for _ in range(args.processes - 1 if several else 0):
            port2 = free_port()
            argv = [*lianxin_cmd(), "serve", "--config", str(cfg), "--port", str(port2)]
            procs.append(servers.start(f"lianxin{port2}", argv, port2, workdir))
        for s in procs:
            servers.wait_ready(s, timeout=60)
        # Untimed warm-up of every process measured: a new process's first seconds fill
        # its caches (templates, prepared statements, identities, the wide figures) and
        # would be measured as its steady state; in production processes run for days.
        warm = min(args.warm_seconds, args.mixed_seconds)
        if warm > 0:
            await mixed([s.base for s in procs], world, args.clients, warm, [])
        # One process and N alternately, in `--slices` slices each, so that the machine's
        # speed, which drifts by tens of percent within minutes, weighs on both alike.
        slices = max(1, args.slices) if several else 1
        ones, multis, cpu = [], [], 0.0
        for _ in range(slices):
            cpu0 = server.cpu_seconds()
            part = await mixed(
                [server.base], world, args.clients, args.mixed_seconds / slices, [server.proc.pid]
            )
            cpu += server.cpu_seconds() - cpu0
            ones.append(part)
            if several:
                multis.append(
                    await mixed(
                        [s.base for s in procs],
                        world,
                        args.clients,
                        args.mixed_seconds / slices,
                        [s.proc.pid for s in procs],
                    )
                )
        mix = merge(ones)
        mix["cpu_ms"] = 1000 * cpu / max(mix["n"], 1)
        if several:
            multi = merge(multis)
            mix["multi_rps"], mix["multi_member_p99"] = multi["rps"], multi["member_p99"]
            mix["multi_errors"], mix["processes"] = multi["errors"], args.processes
            mix["multi_cores"] = multi["cores"]
        for raw in ("lat", "took", "peak"):
            del mix[raw]
        if args.mixed_seconds > 0:  # the same load while every job fires district-wide
            # a delivery's created_at is the server's clock, a second behind at most
            since = current_clock().now() - timedelta(seconds=2)
            await hold_jobs(url, due=True)
            jobs = await mixed(
                [server.base], world, args.clients, args.mixed_seconds, [server.proc.pid]
            )
            mix["jobs_pushes"] = await sent_since(url, since)
            mix["jobs_rps"], mix["jobs_member_p99"] = jobs["rps"], jobs["member_p99"]
            mix["jobs_officer_p99"] = jobs["officer_p99"]
            mix["rss_peak"] = max(mix["rss_peak"], jobs["rss_peak"])
        report.add_footprint(engine, start_s, idle, mix, await db_size_mb(url))
    if not args.no_jobs:
        report.add_jobs(engine, await time_jobs(url))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument(
        "--now", default=os.environ.get(ENV_NOW, NOW), help="the clock's start (ISO 8601)"
    )
    p.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    p.add_argument("--pg-url", default=os.environ.get("LIANXIN_TEST_PG_URL", ""))
    p.add_argument("--samples", type=int, default=20, help="messages per command")
    p.add_argument("--case-seconds", type=float, default=15.0, help="cap per command")
    p.add_argument("--mixed-seconds", type=float, default=20.0)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument(
        "--warm-seconds", type=float, default=5.0, help="untimed load before each mixed one"
    )
    p.add_argument("--slices", type=int, default=4, help="one process and N alternately")
    p.add_argument("--processes", type=int, default=2, help="PostgreSQL: serve processes")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        help='run only the cases whose "who command" contains this (repeatable)',
    )
    p.add_argument("--no-jobs", action="store_true", help="skip the job ticks")
    p.add_argument("--results", type=Path, default=RESULTS, help="templates and run copies")
    p.add_argument("--out", type=Path, default=RESULTS / "scale.md")
    args = p.parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    report = Report(args.scale, args.now)
    with bench_clock(args.now):
        for engine in [e.strip() for e in args.db.split(",") if e.strip()]:
            if engine == "postgres" and not args.pg_url:
                print("postgres: not measured (no --pg-url / LIANXIN_TEST_PG_URL)")
                continue
            asyncio.run(bench_engine(engine, args, report))
    text = report.render()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, "utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(report.data, ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
