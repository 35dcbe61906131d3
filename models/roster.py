"""花名册导入：组织、党员、群绑定。每行都校验；有一行不对就什么都不写；同一文件导两次不变。

The columns and their rules are here once, their words (headers, notes, the words a cell
may hold) in templates/zh_CN/roster.toml; reading, the error report, the single
transaction and the dry run come from bot/tabular.py. `may(org)` says whether the
importing officer may write under an organisation (web: the officer's scope, the
same `is_officer_of` as chat; shell: everything); `may(None)` is about top-level
organisations (admins only on the web).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from typing import Any

from bot.tabular import Column, Report, Row, RowError, read_table, run_import
from bot.templates import DEFAULT_DIR
from models.checkin import (
    MEMBER_RELATIONS,
    MEMBER_TYPES,
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
# The words of the roster files (titles, headers, notes, the words cells may hold).
WORDS: dict[str, Any] = tomllib.loads((DEFAULT_DIR / "roster.toml").read_text("utf-8"))
KIND_WORDS: dict[str, str] = WORDS["words"]["kind"]
TYPE_WORDS: dict[str, str] = WORDS["words"]["member_type"]
RELATION_WORDS: dict[str, str] = WORDS["words"]["relation"]
assert set(RELATION_WORDS.values()) <= set(MEMBER_RELATIONS), "roster.toml [words.relation]"


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


def column(kind: str, key: str, **rules: Any) -> Column:
    """Column `key` of a `kind` of roster: its rules here, its words in roster.toml."""
    said = WORDS["columns"][kind][key]
    return Column(
        key,
        said["header"],
        note=said.get("note", ""),
        example=said.get("example", ""),
        aliases=tuple(said.get("aliases", ())),
        **rules,
    )


ORG_COLUMNS = (
    column("orgs", "code", parse=parse_code, unique=True),
    column("orgs", "name", parse=parse_org_name),
    column("orgs", "kind", parse=parse_kind),
    column("orgs", "parent", required=False, parse=parse_code),
)
MEMBER_COLUMNS = (
    column("members", "name", parse=normalize_name),
    column("members", "phone", parse=normalize_phone, unique=True),
    column("members", "org", parse=parse_code),
    column("members", "member_type", parse=parse_member_type),
    column("members", "relation", required=False, parse=parse_relation),
    column("members", "account", required=False, parse=parse_account, unique=True),
)
BINDING_COLUMNS = (
    column("bindings", "platform", parse=parse_platform),
    column("bindings", "chat"),
    column("bindings", "org", parse=parse_code),
)
COLUMNS = {"orgs": ORG_COLUMNS, "members": MEMBER_COLUMNS, "bindings": BINDING_COLUMNS}
TITLES: dict[str, str] = dict(WORDS["titles"])
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
