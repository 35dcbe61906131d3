"""工作台的命令行：lianxin admin login-link PLATFORM:USER（第一位管理员从这里进入）。"""

from __future__ import annotations

import sys

from bot.clock import clock_from_env
from bot.config import Config


async def login_link(config: Config, user: str) -> int:
    """Print a single-use login link for an officer or admin (10 minutes)."""
    from bot.db import close_db, init_db
    from bot.identity import IdentityService
    from bot.registry import OFFICER
    from bot.web import public_url
    from models.web import LOGIN_MINUTES, LoginToken

    platform, _, user_id = user.partition(":")
    if not platform or not user_id:
        print("USER must look like PLATFORM:USER, e.g. wechat:oABC", file=sys.stderr)
        return 2
    if not config.admin.enabled:
        print("the workbench is off: set [admin] enabled = true and secret", file=sys.stderr)
        return 2
    await init_db(config.database.url)
    try:
        identity = IdentityService(0)
        await identity.bootstrap_admins(config.bot.admins)
        caller = await identity.resolve(platform, user_id)
        if caller.person_id is None or not OFFICER.check(caller, None):
            print(f"{user} is not an officer or admin (lianxin admin grant …)", file=sys.stderr)
            return 2
        raw = await LoginToken.issue_link(
            caller.person_id, caller.user_key, now=clock_from_env().now()
        )
    finally:
        await close_db()
    url = f"{public_url(config)}/admin/login?token={raw}"
    print(f"{url}\n(single use, valid {LOGIN_MINUTES} minutes)")
    return 0
