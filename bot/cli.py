"""命令行：lianxin serve | chat | db upgrade | admin grant | demo | send | channels | export。"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from datetime import date

from bot.config import Config, ConfigError, load_config
from bot.logs import setup_logging
from models.people import ORG_KINDS

log = logging.getLogger("lianxin.cli")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand must not reset a --config given before it to None.
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="TOML config file (default: built-in defaults)"
    )
    p = argparse.ArgumentParser(
        prog="lianxin", description="连心 · 社区党群服务机器人", parents=[common]
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    serve = sub.add_parser("serve", parents=[common], help="start the webhook server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    chat = sub.add_parser("chat", parents=[common], help="chat with the bot in this terminal")
    chat.add_argument("--user", default="me", help="console user id (default: me)")
    chat.add_argument("--group", help="pretend to be in this group chat")

    db = sub.add_parser("db", parents=[common], help="database schema")
    db.add_argument("action", choices=["upgrade"])

    admin = sub.add_parser("admin", parents=[common], help="roles")
    admin_sub = admin.add_subparsers(dest="admin_cmd", required=True)
    grant = admin_sub.add_parser("grant", parents=[common], help="grant a role")
    grant.add_argument("user", help="PLATFORM:USER, e.g. wechat:oABC or onebot:12345")
    grant.add_argument("role", choices=["member", "officer", "admin", "grid_worker"])
    grant.add_argument(
        "org", nargs="?", help="organisation code (required for officer; a grid for grid_worker)"
    )
    link = admin_sub.add_parser(
        "login-link", parents=[common], help="a one-time link to the workbench (/admin/)"
    )
    link.add_argument("user", help="PLATFORM:USER of an officer or admin, e.g. wechat:oABC")

    send = sub.add_parser("send", parents=[common], help="send a text to a person or group")
    send.add_argument("target", help="e.g. onebot-group:123456, wechat:oABC, wecom-robot:notices")
    send.add_argument("text")

    sub.add_parser("channels", parents=[common], help="what each platform lets the bot send")

    export = sub.add_parser("export", parents=[common], help="export a ledger (台账)")
    export.add_argument(
        "what",
        help="a ledger the services register: requests, members, activities, timebank, "
        "visits, households, …",
    )
    export.add_argument("--org", required=True, help="organisation code (its subtree included)")
    export.add_argument(
        "--from",
        dest="date_from",
        type=date.fromisoformat,
        help="requests, activities (timebank, visits: optional)",
    )
    export.add_argument(
        "--to", dest="date_to", type=date.fromisoformat, help="requests, activities"
    )
    export.add_argument(
        "--full-phone", action="store_true", help="members, households: unmasked phones"
    )
    export.add_argument("--format", dest="fmt", choices=["xlsx", "csv"], default="xlsx")
    export.add_argument("--out", help="file (default: requests-ORG-FROM-TO.FORMAT)")

    imp = sub.add_parser("import", parents=[common], help="import a roster (xlsx or csv)")
    imp.add_argument("what", choices=["orgs", "members", "bindings", "households"])
    imp.add_argument("file", help="xlsx or csv with the template's Chinese headers")
    imp.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    imp.add_argument("--template", action="store_true", help="write the template to FILE")

    org = sub.add_parser("org", parents=[common], help="organisations")
    org_sub = org.add_subparsers(dest="org_cmd", required=True)
    org_add = org_sub.add_parser("add", parents=[common], help="add an organisation to the tree")
    org_add.add_argument("code", help="e.g. WG03")
    org_add.add_argument("name", help="e.g. 和平社区第三网格")
    org_add.add_argument("--kind", required=True, choices=list(ORG_KINDS))
    org_add.add_argument("--parent", help="the parent's code (e.g. the community of a grid)")

    demo = sub.add_parser("demo", parents=[common], help="seed a demo organisation")
    demo.add_argument("--if-empty", action="store_true", help="only when no organisation exists")
    demo.add_argument(
        "--scale", type=float, help="a whole district instead (1.0 = 100,000 people; empty db)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging()
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"配置错误 / config error: {exc}", file=sys.stderr)
        return 2
    from bot.clock import set_zone

    set_zone(config.bot.timezone)  # ledgers' days and months, as the server reads them
    if args.cmd not in ("db", "channels"):
        # Everything but `db upgrade` needs a migrated database; never create an empty one.
        from bot.db import schema_problem

        problem = asyncio.run(schema_problem(config.database.url))
        if problem:
            print(problem, file=sys.stderr)
            return 2
    if args.cmd == "serve":
        return serve(config, args.host, args.port)
    if args.cmd == "chat":
        return asyncio.run(chat(config, args.user, args.group))
    if args.cmd == "db":
        return asyncio.run(db_upgrade(config))
    if args.cmd == "admin" and args.admin_cmd == "login-link":
        from bot.web.cli import login_link

        return asyncio.run(login_link(config, args.user))
    if args.cmd == "admin":
        return asyncio.run(admin_grant(config, args.user, args.role, args.org))
    if args.cmd == "send":
        return asyncio.run(send(config, args.target, args.text))
    if args.cmd == "export":
        return asyncio.run(export_ledger(config, args))
    if args.cmd == "import":
        from bot.roster_cli import import_file

        return asyncio.run(import_file(config, args))
    if args.cmd == "channels":
        return channels(config)
    if args.cmd == "demo" and args.scale:
        from models.district.cli import seed_district

        return asyncio.run(seed_district(config.database.url, args.scale))
    if args.cmd == "demo":
        return asyncio.run(seed_demo(config, args.if_empty))
    if args.cmd == "org":
        from bot.org_cli import org_add

        return asyncio.run(org_add(config, args.code, args.name, args.kind, args.parent))
    return 2


def serve(config: Config, host: str | None, port: int | None) -> int:
    from aiohttp import web

    from bot.app import create_app

    if host:
        config.server.host = host
    if port:
        config.server.port = port
    app = create_app(config)
    app.on_startup.append(_freeze_heap)  # after the app's own startup
    log.info("listening on http://%s:%s", config.server.host, config.server.port)
    # SIGTERM/SIGINT: stop accepting, let in-flight requests finish within shutdown_timeout.
    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        shutdown_timeout=config.server.shutdown_timeout,
        # Headers that never end are cut off after client_timeout (bot/guards.py: bodies);
        # an unread body is not drained (a 10 MB upload refused is not read after all).
        keepalive_timeout=config.server.client_timeout,
        lingering_time=0,
        access_log=None,
        print=None,
    )
    return 0


GC_YOUNG_THRESHOLD = 5_000


async def _freeze_heap(app: object) -> None:
    """Modules, models and templates live as long as the process: frozen, the collector's
    full passes skip them (50-80 ms event-loop stalls at ~100k objects otherwise)."""
    gc.collect()
    gc.freeze()
    # Messages leave no cycles behind (issue #15), so the young generation mostly holds
    # the objects of requests in flight: at the default 700 it was collected ~400 times
    # per 12,000 requests at concurrency 64 (~11 µs a request); at 5,000 a few times.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def db_upgrade(config: Config) -> int:
    from bot.db import upgrade

    await upgrade(config.database.url)
    print("数据库已是最新结构 / schema up to date")
    return 0


async def admin_grant(config: Config, user: str, role: str, org_code: str | None) -> int:
    from bot.db import close_db, init_db
    from bot.identity import IdentityService
    from models.people import Organization

    platform, _, user_id = user.partition(":")
    if not platform or not user_id:
        print("USER must look like PLATFORM:USER, e.g. onebot:12345", file=sys.stderr)
        return 2
    if role in ("officer", "grid_worker") and not org_code:
        print(
            f"{role} needs an organisation code: admin grant USER {role} ORGCODE", file=sys.stderr
        )
        return 2
    await init_db(config.database.url)
    try:
        org = None
        if org_code:
            org = await Organization.filter(code=org_code.upper()).first()
            if org is None:
                print(f"unknown organisation code {org_code!r}", file=sys.stderr)
                return 2
            if role == "grid_worker" and org.kind != "grid":
                print(f"grid_worker: {org.code} is a {org.kind}, not a grid", file=sys.stderr)
                return 2
        identity = IdentityService()
        person = await identity.ensure_person(platform, user_id)
        created = await identity.grant(person, role, org, granted_by="cli")
        where = f" of {org.code}" if org else ""
        print(f"{'granted' if created else 'already had'}: {user} {role}{where}")
        return 0
    finally:
        await close_db()


async def seed_demo(config: Config, if_empty: bool) -> int:
    from bot.db import close_db, init_db
    from bot.demo import seed

    await init_db(config.database.url)
    try:
        created = await seed(if_empty=if_empty)
        print("已建立示例组织 / demo organisation created" if created else "demo: nothing to do")
        return 0
    finally:
        await close_db()


async def send(config: Config, target: str, text: str) -> int:
    """Send one text through the configured platform and print the outcome."""
    from bot.runtime import Runtime

    runtime = Runtime.build(config)
    await runtime.start()
    try:
        outbound = runtime.outbound
        assert outbound is not None  # start() made it
        why = outbound.refusal(target)
        delivery = await outbound.send(target, text, purpose="cli")
    finally:
        await runtime.stop()
    if delivery.status == "sent":
        print(f"sent to {delivery.target} (delivery #{delivery.id})")
        return 0
    code = f" [{delivery.error_code}]" if delivery.error_code is not None else ""
    print(f"{delivery.status}{code}: {why or delivery.reason} (delivery #{delivery.id})")
    return 2 if delivery.status == "refused" else 1


async def export_ledger(config: Config, args: argparse.Namespace) -> int:
    """Write a ledger file (xlsx or csv, Chinese headers) for an organisation's subtree;
    the ledgers are those the services register (router.export, bot/exports.py)."""
    from pathlib import Path

    from bot.db import close_db, init_db
    from bot.exports import ExportError, export, ledger

    try:
        found = ledger(args.what, config.bot.services)
    except ExportError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    if found.dated and not (args.date_from and args.date_to):
        print(f"export: {args.what} needs --from DATE and --to DATE", file=sys.stderr)
        return 2
    if found.dated:
        name = f"{args.what}-{args.org}-{args.date_from}-{args.date_to}.{args.fmt}"
    else:
        name = f"{args.what}-{args.org}.{args.fmt}"
    out = Path(args.out or name)
    dates = (args.date_from, args.date_to) if found.periods else (None, None)
    await init_db(config.database.url)
    try:
        count = await export(found, args.org, args.fmt, out, *dates, full_phone=args.full_phone)
    except ExportError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    finally:
        await close_db()
    print(f"{count} {args.what} → {out}")
    return 0


def channels(config: Config) -> int:
    """Print what each platform lets the bot do, and whether it is configured here."""
    import importlib
    import importlib.util

    from bot.app import enabled_channels
    from bot.runtime import SENDER_BUILDERS

    on = set(enabled_channels(config))
    yes = {True: "yes", False: "no"}
    print(
        f"{'platform':<10} {'enabled':<8} {'status':<6} {'reply':<6} {'push→person':<12} "
        f"{'push→group':<11} limits"
    )
    for platform, ref in SENDER_BUILDERS.items():
        module_name = ref.partition(":")[0]
        if importlib.util.find_spec(module_name) is None:
            continue
        caps = importlib.import_module(module_name).CAPABILITIES
        print(
            f"{platform:<10} {yes[platform in on]:<8} {caps.status:<6} {yes[caps.reply]:<6} "
            f"{yes[caps.push_user]:<12} {yes[caps.push_group]:<11} {caps.note}"
        )
    if "onebot12" in on:
        from bot.channels.onebot12_bridges import stored_lines

        for line in asyncio.run(stored_lines(config.database.url)):
            print(line)
    return 0


async def chat(config: Config, user: str, group: str | None) -> int:
    """Interactive chat in the terminal, through the same dispatcher as the webhooks."""
    from bot.inbound import Inbound
    from bot.runtime import Runtime
    from bot.senders.console import ConsoleSender

    logging.getLogger("lianxin.event").setLevel(logging.WARNING)
    runtime = Runtime.build(config)
    await runtime.start()
    print("连心 · 终端对话（输入 /帮助 开始，Ctrl-D 退出）")
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                line = await loop.run_in_executor(None, input, f"{user}> ")
            except EOFError:
                print()
                break
            inbound = Inbound(
                platform="console",
                user_id=user,
                chat_id=group or user,
                text=line,
                display_name=user,
                nickname=user,
                is_group=bool(group),
            )
            for reply in await runtime.dispatcher.handle(inbound):
                print(reply.text)
                print()
            await runtime.settle()
            console = runtime.senders.get("console")
            if not isinstance(console, ConsoleSender):
                continue
            for text in console.take(user, group or user):
                print(f"[推送] {text}")
                print()
    finally:
        await runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
