"""示例组织：一棵小组织树和一位示例书记，让新用户立刻能试用全部命令。"""

from __future__ import annotations

from bot.identity import IdentityService
from models.people import Organization

DEMO_TREE = [
    # code, name, kind, parent code
    ("DEMO", "示范区委", "district", None),
    ("JD01", "幸福街道党工委", "street", "DEMO"),
    ("SQ001", "和平社区党委", "community", "JD01"),
    ("ZB001", "和平社区第一党支部", "branch", "SQ001"),
    ("WG01", "和平社区第一网格", "grid", "SQ001"),
    ("SQ002", "光明社区党委", "community", "JD01"),
    ("BM01", "街道城管科", "department", "JD01"),
]

# Console users for trying officer commands: `lianxin chat --user secretary`.
DEMO_PEOPLE = [("console", "secretary", "王书记", "officer", "SQ001")]


async def seed(if_empty: bool = False) -> bool:
    if await Organization.exists():
        if if_empty:
            return False
    created_any = False
    orgs: dict[str, Organization] = {}
    for code, name, kind, parent in DEMO_TREE:
        org = await Organization.filter(code=code).first()
        if org is None:
            org = await Organization.create_in_tree(
                code, name, kind, orgs.get(parent) if parent else None
            )
            created_any = True
        orgs[code] = org
    identity = IdentityService()
    for platform, user_id, name, role, code in DEMO_PEOPLE:
        person = await identity.ensure_person(platform, user_id, name=name)
        created_any |= await identity.grant(person, role, orgs[code], granted_by="demo")
    return created_any
