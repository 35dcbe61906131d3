"""党务工作台 at district scale: every /admin/ page, three scopes, both databases.

    python -m bench.workbench [--scale 1.0] [--db sqlite,postgres] [--rounds 10]
    python -m bench.workbench --db sqlite --scopes district --only requests --rounds 5

Uses the district of scale S (models/district) kept as a template by bench.scale, on
the same clock (`--now`): `<results>/district-S-DATE.sqlite3` and the PostgreSQL
database `lianxin_scale_S_DATE` (generated when missing), copied for the run
(`<results>/workbench-sqlite/run.sqlite3`, `lianxin_scale_S_DATE_run`, dropped after)
and upgraded, so the template is never written. Pass `--results DIR` holding a copy of
a shared district-S-DATE.sqlite3 to use that one.
Starts `lianxin serve` on 127.0.0.1 against the copy, logs in through `lianxin admin
login-link` as an officer of a community, a street and the district, and times each page
of `PAGES`: one request whose time is shown as "first" (caches cold), then `--rounds`
requests one after another. Prints p50 / p95 / max, first and the server's CPU per
request (ms; steadier than wall time on a shared machine) per page, and writes the table
to `--out`. Bounded by `--cap` seconds per database; it measures, it does not test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from bench.scale import NOW, config_file
from bench.scale_db import hold_jobs, pg_database, prepare_postgres, prepare_sqlite
from bench.servers import (
    REPO,
    Server,
    Servers,
    _clean_env,
    bench_clock,
    free_port,
    lianxin_cmd,
)
from bot.clock import ENV_NOW
from bot.db import close_db, init_db

RESULTS = REPO / "bench" / "results"
SECRET = "bench-secret-of-the-workbench-0123456789"
SCOPES = ("community", "street", "district")
HEADER = "| page | p50 ms | p95 ms | max ms | first ms | server CPU ms/req |"
# (name, path): {request}, {person}, {org}, {category}, {day}, {month} come from the scope.
PAGES = [
    ("overview", "/admin/"),
    ("requests", "/admin/requests"),
    ("requests all", "/admin/requests?status=all"),
    ("requests all p50", "/admin/requests?status=all&page=50"),
    ("requests all last", "/admin/requests?status=all&page=100000"),
    ("requests closed", "/admin/requests?status=closed"),
    ("requests closed this month", "/admin/requests?status=closed&month=this"),
    ("requests overdue", "/admin/requests?overdue=1"),
    ("requests category", "/admin/requests?category={category}&month=this"),
    ("requests org", "/admin/requests?org={org}"),
    ("requests day", "/admin/requests?day={day}"),
    ("requests mine", "/admin/requests?mine=1"),
    ("request", "/admin/requests/{request}"),
    ("approvals", "/admin/approvals"),
    ("people", "/admin/people"),
    ("people p200", "/admin/people?page=200"),
    ("people full", "/admin/people?category=full"),
    ("people probationary", "/admin/people?category=probationary"),
    ("people flow_in", "/admin/people?category=flow_in"),
    ("people flow_out", "/admin/people?category=flow_out"),
    ("people pocket", "/admin/people?category=pocket"),
    ("people lost", "/admin/people?category=lost"),
    ("people lost p20", "/admin/people?category=lost&page=20"),
    ("people search name", "/admin/people?q={name}"),
    ("people search phone", "/admin/people?q=1381"),
    ("person", "/admin/people/{person}"),
    ("activities", "/admin/activities"),
    ("activities last month", "/admin/activities?month={month}"),
    ("broadcasts", "/admin/broadcasts"),
    ("ledgers", "/admin/ledgers"),
    ("audit", "/admin/audit"),
    ("sessions", "/admin/sessions"),
    ("import", "/admin/import"),
]


# -- the databases (the templates and run copies of bench.scale) ----------------------------
async def drop_postgres(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(pg_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def officers(url: str) -> dict[str, dict[str, str]]:
    """Per scope: the first officer of an organisation of that kind (PLATFORM:USER) and the
    values its pages use (a request and a person in scope, a child organisation, …)."""
    from datetime import timedelta

    from bot.clock import local
    from models.people import Identity, Organization, Person, RoleGrant
    from models.requests import ServiceRequest

    await init_db(url)
    try:
        found = {}
        for kind in SCOPES:
            grant = await RoleGrant.filter(role="officer", org__kind=kind).order_by("id").first()
            if grant is None:
                continue
            org = await Organization.get(id=grant.org_id)
            ident = await Identity.filter(person_id=grant.person_id).first()
            under = {"org__path__startswith": org.path}
            req = await ServiceRequest.filter(**under).order_by("-id").first()
            child = await Organization.filter(parent_id=org.id).order_by("path").first() or org
            person = await Person.filter(home_org__path__startswith=org.path).order_by("id").first()
            when = local(req.created_at if req else None)  # type: ignore[arg-type]
            last = when.replace(day=1) - timedelta(days=1)
            found[kind] = {
                "who": f"{ident.platform}:{ident.user_id}",
                "org_name": org.name,
                "request": req.number if req else "Q0000000000",
                "person": str(person.id if person else 0),
                "org": child.code,
                "category": req.category if req else "other",
                "day": when.date().isoformat(),
                "month": last.strftime("%Y-%m"),
                "name": (person.name or "王")[:1] if person else "王",
            }
        return found
    finally:
        await close_db()


def admin_config(workdir: Path, url: str, port: int) -> Path:
    """bench.scale's server config with the workbench on."""
    path = config_file(workdir, url, port)
    admin = f'secret = "{SECRET}"\npublic_url = "http://127.0.0.1:{port}"'
    path.write_text(path.read_text("utf-8") + f"\n[admin]\nenabled = true\n{admin}\n", "utf-8")
    return path


# -- measuring ----------------------------------------------------------------------------
async def login(http: aiohttp.ClientSession, base: str, cfg: Path, who: str) -> None:
    out = subprocess.run(
        [*lianxin_cmd(), "admin", "login-link", who, "--config", str(cfg)],
        env=_clean_env(), capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    path = re.search(r"/admin/login\?token=[\w-]+", out).group(0)  # type: ignore[union-attr]
    async with http.get(base + path) as page:
        html = await page.text()
    csrf = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    token = path.split("=", 1)[1]
    # Not following the redirect: the first GET of the overview is the timed warm-up.
    form = {"token": token, "_csrf": csrf}
    async with http.post(f"{base}/admin/login", data=form, allow_redirects=False) as r:
        assert r.status == 302, r.status


def pct(times: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(times)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))]


async def measure(
    server: Server, cfg: Path, scope: dict[str, str], args: argparse.Namespace, deadline: float
) -> list[tuple[str, float, float, float, float, float]]:
    rows = []
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        await login(http, server.base, cfg, scope["who"])
        for name, path in PAGES:
            if args.only and not any(o in name for o in args.only.split(",")):
                continue
            if time.monotonic() > deadline:
                print(f"  (cap reached: {name} and after not measured)")
                break
            url = server.base + path.format(**scope)
            times: list[float] = []
            cpu0 = 0.0
            for i in range(args.rounds + 1):
                if i == 1:  # the first is the warm-up (shown as "first": caches are cold)
                    cpu0 = server.cpu_seconds()
                started = time.perf_counter()
                async with http.get(url, allow_redirects=False) as resp:
                    await resp.read()
                    assert resp.status == 200, (path, resp.status)
                times.append((time.perf_counter() - started) * 1000)
            cpu = (server.cpu_seconds() - cpu0) * 1000 / args.rounds
            first, times = times[0], times[1:]
            row = (name, pct(times, 0.5), pct(times, 0.95), max(times), first, cpu)
            print(
                f"  {name:28} p50 {row[1]:6.0f}  p95 {row[2]:6.0f}  first {first:6.0f}  "
                f"cpu {cpu:6.0f}",
                flush=True,
            )
            rows.append(row)
    return rows


async def bench_engine(engine: str, args: argparse.Namespace) -> list[str]:
    workdir = args.results / f"workbench-{engine}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    prepare = prepare_sqlite(args.scale, workdir) if engine == "sqlite" else None
    url = await (prepare or prepare_postgres(args.scale, args.pg_url))
    lines: list[str] = []
    try:
        scopes = await officers(url)
        await hold_jobs(url, due=False)  # pages are measured without the jobs firing
        port = free_port()
        cfg = admin_config(workdir, url, port)
        with Servers(workdir) as servers:
            argv = [*lianxin_cmd(), "serve", "--config", str(cfg)]
            server = servers.start("lianxin", argv, port, workdir)
            servers.wait_ready(server, timeout=60)
            deadline = time.monotonic() + args.cap
            for kind in args.scopes.split(","):
                if kind not in scopes:
                    continue
                scope = scopes[kind]
                title = f"{engine}, {kind} officer ({scope['org_name']}), S={args.scale:g}"
                print(f"\n{title}, {args.rounds} requests each", flush=True)
                rows = await measure(server, cfg, scope, args, deadline)
                lines += [f"\n### {title}\n", HEADER, "|---|---:|---:|---:|---:|---:|"]
                for name, p50, p95, top, first, cpu in rows:
                    mark = " **>300**" if p95 >= 300 else ""
                    cells = f"{p50:.0f} | {p95:.0f}{mark} | {top:.0f} | {first:.0f} | {cpu:.0f}"
                    lines.append(f"| {name} | {cells} |")
    finally:
        if engine == "postgres":
            await drop_postgres(url)
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.workbench", description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument(
        "--now", default=os.environ.get(ENV_NOW, NOW), help="the clock's start (ISO 8601)"
    )
    p.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    p.add_argument("--pg-url", default=os.environ.get("LIANXIN_TEST_PG_URL", ""))
    p.add_argument("--scopes", default=",".join(SCOPES), help="community, street, district")
    p.add_argument("--only", default="", help="pages whose name contains one of these (a,b)")
    p.add_argument("--rounds", type=int, default=10, help="timed requests per page")
    p.add_argument("--cap", type=float, default=300.0, help="seconds per database")
    p.add_argument("--results", type=Path, default=RESULTS, help="templates and run copies")
    p.add_argument("--out", type=Path, default=RESULTS / "workbench.md")
    args = p.parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    lines = [f"# Workbench pages at S={args.scale:g} ({time.strftime('%Y-%m-%d %H:%M')})"]
    with bench_clock(args.now):  # the template's clock, the server's
        for engine in [e.strip() for e in args.db.split(",") if e.strip()]:
            if engine == "postgres" and not args.pg_url:
                print("postgres: not measured (no --pg-url / LIANXIN_TEST_PG_URL)")
                continue
            lines += asyncio.run(bench_engine(engine, args))
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, "utf-8")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
