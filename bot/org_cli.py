"""lianxin org add CODE NAME --kind KIND [--parent CODE]: one organisation into the tree.

Running it again with the same values changes nothing (exit 0); a code already used
by a different organisation is refused.
"""

from __future__ import annotations

import sys

from bot.config import Config


async def org_add(config: Config, code: str, name: str, kind: str, parent_code: str | None) -> int:
    from bot.db import close_db, init_db
    from models.people import Organization

    code, name = code.strip().upper(), name.strip()
    if not code or len(code) > 32 or not name or len(name) > 100:
        print("org add: CODE (1-32 characters) and NAME (1-100) are required", file=sys.stderr)
        return 2
    await init_db(config.database.url)
    try:
        parent = None
        if parent_code:
            parent = await Organization.filter(code=parent_code.strip().upper()).first()
            if parent is None:
                print(f"org add: unknown parent code {parent_code!r}", file=sys.stderr)
                return 2
        existing = await Organization.filter(code=code).first()
        if existing is not None:
            same = (existing.name, existing.kind, existing.parent_id) == (
                name,
                kind,
                parent.id if parent else None,
            )
            if same:
                print(f"already there: {code} {name} ({kind})")
                return 0
            print(
                f"org add: code {code} is already {existing.name} ({existing.kind})",
                file=sys.stderr,
            )
            return 2
        org = await Organization.create_in_tree(code, name, kind, parent)
        under = f" under {parent.code}" if parent else ""
        print(f"created: {org.code} {org.name} ({org.kind}){under}")
        return 0
    finally:
        await close_db()
