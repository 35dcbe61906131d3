"""花名册导入：组织、党员、群绑定。每行都校验；有一行不对就什么都不写；同一文件导两次不变。

The columns and their rules are here once; reading, the error report, the single
transaction and the dry run come from bot/tabular.py. `may(org)` says whether the
importing officer may write under an organisation (web: the officer's scope, the
same `is_officer_of` as chat; shell: everything); `may(None)` is about top-level
organisations (admins only on the web).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from bot.tabular import Column, Report, Row, RowError, read_table, run_import
from models.checkin import (
    MEMBER_TYPES,
    RELATION_POCKET,
    RELATION_REGISTERED,
    normalize_name,
    normalize_phone,
)
from models.errors import DomainError
from models.grids.importer import HOUSEHOLD_COLUMNS, import_households
from models.grids.importer import TITLE as HOUSEHOLD_TITLE
from models.people import ORG_KINDS, GroupBinding, Identity, Organization, Person, RoleGrant

May = Callable[[Organization | None], bool]
PLATFORMS = ("wechat", "wecom", "onebot", "qq", "console")
CODE_RE = re.compile(r"^[A-Z0-9_-]{1,32}$")

KIND_WORDS = {
    "区委": "district", "区": "district", "街道": "street", "街道党工委": "street",
    "社区": "community", "社区党委": "community", "支部": "branch", "党支部": "branch",
    "网格": "grid", "党小组": "grid", "科室": "department", "部门": "department",
    "社会组织": "partner", "共建单位": "partner",
}  # fmt: skip
TYPE_WORDS = {
    "正式党员": "full",
    "正式": "full",
    "预备党员": "probationary",
    "预备": "probationary",
}
RELATION_WORDS = {
    "已转入": RELATION_REGISTERED, "是": RELATION_REGISTERED, "": RELATION_REGISTERED,
    "口袋党员": RELATION_POCKET, "未转入": RELATION_POCKET, "否": RELATION_POCKET,
}  # fmt: skip


def parse_code(text: str) -> str:
    code = text.strip().upper()
    if not CODE_RE.match(code):
        raise DomainError("bad_org_code", value=text)
    return code


def parse_kind(text: str) -> str:
    kind = KIND_WORDS.get(text.strip(), text.strip().lower())
    if kind not in ORG_KINDS:
        raise DomainError("bad_org_kind", value=text, kinds="、".join(list(KIND_WORDS)[:12]))
    return kind


def parse_org_name(text: str) -> str:
    if len(text) > 100:
        raise DomainError("too_long", limit=100)
    return text


def parse_member_type(text: str) -> str:
    value = TYPE_WORDS.get(text.strip(), text.strip().lower())
    if value not in MEMBER_TYPES:
        raise DomainError("bad_member_type", value=text)
    return value


def parse_relation(text: str) -> str:
    if text.strip() not in RELATION_WORDS:
        raise DomainError("bad_relation", value=text)
    return RELATION_WORDS[text.strip()]


def parse_account(text: str) -> tuple[str, str]:
    platform, _, user_id = text.strip().partition(":")
    if platform.lower() not in PLATFORMS or not user_id.strip():
        raise DomainError("bad_account", value=text, platforms="、".join(PLATFORMS))
    return platform.lower(), user_id.strip()


def parse_platform(text: str) -> str:
    if text.strip().lower() not in PLATFORMS:
        raise DomainError("bad_platform", value=text, platforms="、".join(PLATFORMS))
    return text.strip().lower()


ORG_COLUMNS = (
    Column("code", "组织代码", note="字母数字，唯一，如 ZB002", example="ZB099", parse=parse_code,
           unique=True),
    Column("name", "组织名称", note="全称", example="示例社区第二党支部", parse=parse_org_name),
    Column("kind", "类别", note="区委/街道/社区/支部/网格/科室/社会组织", example="支部",
           parse=parse_kind),
    Column("parent", "上级组织代码", required=False, note="已有的或本表里的组织代码；区委留空",
           example="SQ001", parse=parse_code),
)  # fmt: skip
MEMBER_COLUMNS = (
    Column("name", "姓名", note="真实姓名", example="张示例", parse=normalize_name),
    Column("phone", "手机号", note="11 位手机号，不能重复", example="13800000000",
           parse=normalize_phone, unique=True),
    Column("org", "所属组织代码", aliases=("组织代码",), note="党员所在支部的组织代码",
           example="ZB001", parse=parse_code),
    Column("member_type", "党员类别", note="正式党员 或 预备党员", example="正式党员",
           parse=parse_member_type),
    Column("relation", "组织关系", required=False, note="已转入 或 口袋党员（空=已转入）",
           example="已转入", parse=parse_relation),
    Column("account", "聊天账号", required=False, note="可空；平台:账号，如 wechat:oAbc123",
           example="", parse=parse_account, unique=True),
)  # fmt: skip
BINDING_COLUMNS = (
    Column("platform", "平台", note="wechat/wecom/onebot/qq", example="onebot",
           parse=parse_platform),
    Column("chat", "群号", note="群的 id（QQ 群号、企业微信群 chatid）", example="123456789"),
    Column("org", "组织代码", note="这个群属于的组织", example="SQ001", parse=parse_code),
)  # fmt: skip
COLUMNS = {"orgs": ORG_COLUMNS, "members": MEMBER_COLUMNS, "bindings": BINDING_COLUMNS}
TITLES = {"orgs": "组织导入模板", "members": "党员导入模板", "bindings": "群绑定导入模板"}
# 住户 (models/grids/importer.py): the same rules, its own columns.
COLUMNS["households"] = HOUSEHOLD_COLUMNS
TITLES["households"] = HOUSEHOLD_TITLE


async def import_roster(
    kind: str,
    data: bytes,
    *,
    dry_run: bool = False,
    may: May | None = None,
    by: str = "",
    tags: Sequence[str] | None = None,
) -> Report:
    """Read, check and (unless dry_run or any row is wrong) write one roster file.
    `tags`: the household tags allowed ([grids] tags).

    Raises bot.tabular.TableError when the file is not a table with these headers."""
    if kind == "households":
        return await import_households(data, tags=tags, dry_run=dry_run, may=may)
    rows, errors = read_table(data, COLUMNS[kind])
    report = Report(errors=errors, rows=len(rows))
    apply = {"orgs": _orgs, "members": _members, "bindings": _bindings}[kind]

    async def run(rep: Report) -> None:
        await apply(rows, rep, may or (lambda org: True), by)

    return await run_import(run, report, dry_run=dry_run)


def _refuse(report: Report, row: Row, columns: tuple[Column, ...], key: str, code: str, **d: Any):
    header = next(c.header for c in columns if c.key == key)
    report.errors.append(RowError(row.number, header, code, d))


async def _orgs_by_code(codes: set[str]) -> dict[str, Organization]:
    return {o.code: o for o in await Organization.filter(code__in=sorted(codes))}


# -- organisations -----------------------------------------------------------------
async def _orgs(rows: list[Row], report: Report, may: May, by: str) -> None:
    good = [r for r in rows if not r.failed]
    in_file = {r.values["code"]: r for r in good}
    wanted = {r.values["code"] for r in good} | {r.values["parent"] for r in good}
    known = await _orgs_by_code({c for c in wanted if c})
    parent_ids = [o.parent_id for o in known.values() if o.parent_id]
    codes_of = {o.id: o.code for o in await Organization.filter(id__in=parent_ids)}
    for row in good:
        v = row.values
        parent_code, existing = v["parent"], known.get(v["code"])
        if parent_code and parent_code not in known and parent_code not in in_file:
            _refuse(report, row, ORG_COLUMNS, "parent", "unknown_org", org_code=parent_code)
            continue
        if parent_code == v["code"] or _cycle(v["code"], in_file, known):
            _refuse(report, row, ORG_COLUMNS, "parent", "org_cycle", org_code=v["code"])
            continue
        # Moving an organisation in the tree is not an import's business.
        if existing is not None and codes_of.get(existing.parent_id) != (parent_code or None):
            _refuse(report, row, ORG_COLUMNS, "parent", "org_moved", org_code=v["code"])
            continue
        anchor = _anchor(v["code"], in_file, known)
        if not may(anchor):
            _refuse(report, row, ORG_COLUMNS, "code", "not_your_org", org_code=v["code"])
    if report.errors:
        return
    # Parents first: a row waits until its parent exists.
    pending = list(good)
    while pending:
        ready = [r for r in pending if not r.values["parent"] or r.values["parent"] in known]
        for row in ready:
            v = row.values
            org = known.get(v["code"])
            if org is None:
                parent = known.get(v["parent"]) if v["parent"] else None
                known[v["code"]] = await Organization.create_in_tree(
                    v["code"], v["name"], v["kind"], parent
                )
                report.count("created")
            elif (org.name, org.kind) != (v["name"], v["kind"]):
                await Organization.filter(id=org.id).update(name=v["name"], kind=v["kind"])
                report.count("updated")
            else:
                report.count("unchanged")
        pending = [r for r in pending if r not in ready]


def _cycle(code: str, in_file: dict[str, Row], known: dict[str, Organization]) -> bool:
    seen, current = {code}, in_file[code].values["parent"]
    while current and current in in_file and current not in known:
        if current in seen:
            return True
        seen.add(current)
        current = in_file[current].values["parent"]
    return False


def _anchor(code: str, in_file: dict[str, Row], known: dict[str, Organization]):
    """The organisation already in the database under which this row lands (None: top)."""
    if code in known:
        return known[code]
    parent = in_file[code].values["parent"]
    for _ in range(len(in_file) + 1):
        if not parent:
            return None
        if parent in known:
            return known[parent]
        parent = in_file[parent].values["parent"] if parent in in_file else None
    return None


# -- members -------------------------------------------------------------------------
async def _members(rows: list[Row], report: Report, may: May, by: str) -> None:
    good = [r for r in rows if not r.failed]
    orgs = await _orgs_by_code({r.values["org"] for r in good})
    people: dict[str, Person] = {}
    for p in await Person.filter(phone__in=[r.values["phone"] for r in good]).order_by("id"):
        people.setdefault(p.phone or "", p)
    accounts = [r.values["account"] for r in good if r.values["account"]]
    owners: dict[tuple[str, str], int] = {}
    for platform in {a[0] for a in accounts}:
        users = [a[1] for a in accounts if a[0] == platform]
        for ident in await Identity.filter(platform=platform, user_id__in=users):
            owners[(platform, ident.user_id)] = ident.person_id
    for row in good:
        v = row.values
        org = orgs.get(v["org"])
        if org is None:
            _refuse(report, row, MEMBER_COLUMNS, "org", "unknown_org", org_code=v["org"])
        elif not may(org):
            _refuse(report, row, MEMBER_COLUMNS, "org", "not_your_org", org_code=v["org"])
        person = people.get(v["phone"])
        owner = owners.get(v["account"]) if v["account"] else None
        if owner is not None and (person is None or owner != person.id):
            _refuse(
                report,
                row,
                MEMBER_COLUMNS,
                "account",
                "account_taken",
                value=":".join(v["account"]),
            )
    if report.errors:
        return
    for row in good:
        await _write_member(row.values, orgs[row.values["org"]], people, report, by)


async def _write_member(
    v: dict[str, Any], org: Organization, people: dict[str, Person], report: Report, by: str
) -> None:
    relation = v["relation"] or RELATION_REGISTERED
    fields = {
        "real_name": v["name"],
        "home_org_id": org.id,
        "home_branch": org.name[:100],
        "member_type": v["member_type"],
        "relation_status": relation,
    }
    person = people.get(v["phone"])
    if person is None:
        person = await Person.create(display_name=v["name"][:64], phone=v["phone"], **fields)
        report.count("created")
    elif any(getattr(person, k) != value for k, value in fields.items()):
        await Person.filter(id=person.id).update(**fields)
        report.count("updated")
    else:
        report.count("unchanged")
    # One branch per member: a grant elsewhere moves with the import.
    await RoleGrant.filter(person_id=person.id, role="member").exclude(org_id=org.id).delete()
    await RoleGrant.get_or_create(
        person_id=person.id, role="member", org_id=org.id, defaults={"granted_by": by[:160]}
    )
    if v["account"]:
        platform, user_id = v["account"]
        await Identity.get_or_create(
            platform=platform, user_id=user_id, defaults={"person_id": person.id}
        )


# -- group bindings ------------------------------------------------------------------------
async def _bindings(rows: list[Row], report: Report, may: May, by: str) -> None:
    good = [r for r in rows if not r.failed]
    orgs = await _orgs_by_code({r.values["org"] for r in good})
    seen: dict[tuple[str, str], int] = {}
    for row in good:
        v = row.values
        org = orgs.get(v["org"])
        key = (v["platform"], v["chat"])
        if key in seen:
            _refuse(
                report, row, BINDING_COLUMNS, "chat", "duplicate", value=v["chat"], first=seen[key]
            )
        seen.setdefault(key, row.number)
        if org is None:
            _refuse(report, row, BINDING_COLUMNS, "org", "unknown_org", org_code=v["org"])
        elif not may(org):
            _refuse(report, row, BINDING_COLUMNS, "org", "not_your_org", org_code=v["org"])
    if report.errors:
        return
    for row in good:
        v = row.values
        org = orgs[v["org"]]
        binding = await GroupBinding.filter(platform=v["platform"], chat_id=v["chat"]).first()
        if binding is None:
            await GroupBinding.create(platform=v["platform"], chat_id=v["chat"], org_id=org.id)
            report.count("created")
        elif binding.org_id != org.id:
            await GroupBinding.filter(id=binding.id).update(org_id=org.id)
            report.count("updated")
        else:
            report.count("unchanged")
