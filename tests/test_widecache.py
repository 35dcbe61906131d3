"""models/widecache.py: a wide scope's figures are reused for a minute, then counted
again; a narrow scope's are counted every time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import widecache
from models.people import Organization

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


async def _tree(branches: int) -> tuple[Organization, Organization]:
    """A street with `branches` branches under it; (street, one branch)."""
    street = await Organization.create_in_tree("JD", "街道", "street")
    await Organization.bulk_create(
        Organization(code=f"ZB{i}", name=f"支部{i}", kind="branch", parent=street)
        for i in range(branches)
    )
    for org in await Organization.filter(parent_id=street.id):
        org.path = f"{street.path}{org.id}/"
        await org.save(update_fields=["path"])
    branch = await Organization.filter(parent_id=street.id).order_by("id").first()
    assert branch is not None
    return street, branch


async def test_wide_scope_is_kept_for_a_minute(db) -> None:
    street, branch = await _tree(widecache.WIDE_ORGS)
    counted: list[str] = []

    async def count(what: str) -> str:
        counted.append(what)
        return f"{what}#{len(counted)}"

    async def ask(org: Organization, at: datetime) -> str:
        return await widecache.figures(("t", org.path), [org.path], at, lambda: count(org.code))

    assert await widecache.is_wide([street.path])
    assert not await widecache.is_wide([branch.path])
    first = await ask(street, NOW)
    assert await ask(street, NOW + timedelta(seconds=59)) == first
    assert await ask(street, NOW + widecache.TTL) != first  # a minute on: counted again
    assert await ask(street, NOW - timedelta(seconds=1)) != first  # a clock set back too
    assert await ask(branch, NOW) != await ask(branch, NOW)  # narrow: never kept
    assert counted == ["JD", "JD", "JD", "ZB0", "ZB0"]


async def test_kept_figures_are_bounded(db) -> None:
    street, _ = await _tree(widecache.WIDE_ORGS)

    async def count() -> int:
        return 1

    for i in range(widecache.MAX_ENTRIES + 5):
        await widecache.figures(("n", i), [street.path], NOW + timedelta(seconds=i), count)
    assert len(widecache._kept) == widecache.MAX_ENTRIES
    assert ("n", 0) not in widecache._kept and ("n", widecache.MAX_ENTRIES + 4) in widecache._kept
