"""lianxin import orgs|members|bindings|households FILE [--dry-run] [--template]：导入表格。"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import Config


async def import_file(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 when imported (or a clean dry run), 1 when some row is wrong, 2 on bad use."""
    from bot.db import close_db, init_db
    from bot.tabular import TableError, describe, describe_all, template_xlsx
    from bot.templates import Templates
    from models.roster import COLUMNS, TITLES, import_roster

    path = Path(args.file)
    if args.template:
        path.write_bytes(template_xlsx(COLUMNS[args.what], TITLES[args.what]))
        print(f"template → {path}")
        return 0
    if not path.is_file():
        print(f"import: no file {str(path)!r}", file=sys.stderr)
        return 2
    templates = Templates(config.bot.templates_dir or None)
    await init_db(config.database.url)
    try:
        report = await import_roster(
            args.what, path.read_bytes(), dry_run=args.dry_run, by="cli", tags=config.grids.tags
        )
    except TableError as exc:
        print(describe(exc.error, templates), file=sys.stderr)
        return 1
    finally:
        await close_db()
    text = templates.render(
        "import_report", report=report, lines=describe_all(report.errors, templates)
    )
    print(text, file=sys.stderr if report.errors else sys.stdout)
    return 1 if report.errors else 0
