"""People, organisations and roles: the scope rules, tested on the models and services."""

from __future__ import annotations

from bot.demo import seed
from bot.identity import IdentityService
from bot.registry import ADMIN, MEMBER, OFFICER, Role
from models.people import GroupBinding, Identity, Organization, Person, RoleGrant, orgs_under


async def test_tree_paths_and_subtree(db):
    await seed()
    street = await Organization.get(code="JD01")
    community = await Organization.get(code="SQ001")
    branch = await Organization.get(code="ZB001")
    other = await Organization.get(code="SQ002")
    assert branch.path == f"{community.path}{branch.id}/"
    assert street.contains(branch) and community.contains(branch)
    assert not community.contains(other) and not branch.contains(community)


async def test_officer_scope_covers_subtree_only(db):
    await seed()
    identity = IdentityService()
    caller = await identity.resolve("console", "secretary")
    assert caller.top_role == "officer"
    assert caller.is_officer_of(await Organization.get(code="SQ001"))
    assert caller.is_officer_of(await Organization.get(code="WG01"))
    assert not caller.is_officer_of(await Organization.get(code="SQ002"))
    assert not caller.is_officer_of(await Organization.get(code="JD01"))


async def test_permissions_compose(db):
    await seed()
    identity = IdentityService()
    officer = await identity.resolve("console", "secretary")
    nobody = await identity.resolve("console", "stranger")
    sq002 = await identity.chat_org("console", "none")  # unbound chat → None
    assert sq002 is None
    assert OFFICER.check(officer, None) and not OFFICER.check(nobody, None)
    assert not (OFFICER & ADMIN).check(officer, None)
    assert (MEMBER | OFFICER).check(officer, None)
    assert Role("resident").check(nobody, None)
    # Bound to an organisation outside the officer's scope: refused there.
    other = await Organization.get(code="SQ002")
    await identity.bind_chat("console", "g", other, None)
    assert not OFFICER.check(officer, await identity.chat_org("console", "g"))


async def test_ensure_person_once_and_grant_invalidates_cache(db):
    identity = IdentityService(cache_seconds=3600)
    before = await identity.resolve("wechat", "o1")
    assert before.person_id is None and before.top_role == "resident"
    p1 = await identity.ensure_person("wechat", "o1", "小王")
    p2 = await identity.ensure_person("wechat", "o1", "别的名字")
    # the platform's name is the account's nickname, not a name of the person's own
    assert p1.id == p2.id and (p2.display_name, p2.nickname, p2.name) == ("", "小王", "小王")
    assert await Identity.filter(platform="wechat", user_id="o1").count() == 1
    assert await identity.grant(p1, "member", None) is True
    assert await identity.grant(p1, "member", None) is False
    after = await identity.resolve("wechat", "o1")
    assert after.top_role == "member" and after.person_id == p1.id


async def test_bootstrap_admins_idempotent(db):
    identity = IdentityService()
    await identity.bootstrap_admins(["onebot:10001", "wechat:oAdmin"])
    await identity.bootstrap_admins(["onebot:10001", "wechat:oAdmin"])
    assert await RoleGrant.filter(role="admin").count() == 2
    admin = await identity.resolve("onebot", "10001")
    assert admin.is_admin and admin.is_officer_of(
        await Organization.create_in_tree("X", "x", "grid")
    )
    assert await Person.all().count() == 2


async def test_concurrent_lookups_resolve_each_person_right(db):
    import asyncio

    await seed()
    identity = IdentityService()
    for i in range(0, 40, 4):
        person = await identity.ensure_person("onebot", str(i), f"成员{i}")
        await identity.grant(person, "member", None)
    users = [str(i) for i in range(40)] + ["secretary"]
    callers = await asyncio.gather(
        *[identity.resolve("console" if u == "secretary" else "onebot", u, "群名片") for u in users]
    )
    for user, caller in zip(users, callers, strict=True):
        if user == "secretary":
            assert caller.top_role == "officer" and caller.display_name == "王书记"
        elif int(user) % 4 == 0:
            assert (caller.top_role, caller.display_name) == ("member", f"成员{user}")
        else:
            assert (caller.person_id, caller.top_role, caller.display_name) == (
                None,
                "resident",
                "群名片",
            )


async def test_grant_during_lookup_is_not_lost(db):
    identity = IdentityService(cache_seconds=3600)
    person = await identity.ensure_person("wechat", "o9")
    pending = asyncio_task(identity.resolve("wechat", "o9"))
    await identity.grant(person, "member", None)
    await pending
    assert (await identity.resolve("wechat", "o9")).top_role == "member"


def asyncio_task(coro):
    import asyncio

    return asyncio.ensure_future(coro)


def count_binding_reads(monkeypatch) -> list[dict]:
    """The GroupBinding reads made from now on (their filters)."""
    reads: list[dict] = []
    real_filter = GroupBinding.filter

    def counting_filter(*args, **kwargs):
        reads.append(kwargs)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(GroupBinding, "filter", counting_filter)
    return reads


async def test_a_group_read_by_messages_arriving_together_is_one_query(db, monkeypatch):
    import asyncio

    await seed()
    org = await Organization.get(code="SQ001")
    identity = IdentityService(cache_seconds=3600)
    await identity.bind_chat("onebot", "600", org, None)
    queries = count_binding_reads(monkeypatch)
    views = await asyncio.gather(*[identity.chat_org("onebot", "600") for _ in range(10)])
    assert len(queries) == 1
    assert {v.code if v else None for v in views} == {"SQ001"}
    assert await identity.chat_org("onebot", "600") == views[0]  # kept: no query
    assert len(queries) == 1


async def test_a_binding_made_while_the_group_is_read_is_not_lost(db):
    await seed()
    org = await Organization.get(code="SQ001")
    identity = IdentityService(cache_seconds=3600)
    reading = asyncio_task(identity.chat_org("onebot", "601"))  # not bound yet
    await identity.bind_chat("onebot", "601", org, None)
    await reading
    view = await identity.chat_org("onebot", "601")
    assert view is not None and view.code == "SQ001"


async def test_callers_are_read_in_bounded_statements(db, monkeypatch):
    import asyncio

    import bot.identity

    monkeypatch.setattr(bot.identity, "LOAD_CHUNK", 2)
    identity = IdentityService()
    for i in range(5):
        person = await identity.ensure_person("onebot", f"c{i}", f"成员{i}")
        if i % 2 == 0:
            await identity.grant(person, "member", None)
    callers = await asyncio.gather(*[identity.resolve("onebot", f"c{i}") for i in range(7)])
    assert [c.person_id is not None for c in callers] == [True] * 5 + [False] * 2
    assert [c.top_role for c in callers[:5]] == ["member", "resident"] * 2 + ["member"]
    assert [c.display_name for c in callers[:5]] == [f"成员{i}" for i in range(5)]


async def test_a_caller_used_late_in_its_cache_life_is_read_again_off_the_path(db, monkeypatch):
    """Near the end of its life a cached caller is still answered from the cache, and read
    again in the background: a role granted by another process then shows up without any
    request waiting for a read. Nothing older than cache_seconds is ever returned."""
    import asyncio
    from types import SimpleNamespace

    import bot.identity

    clock = [1000.0]
    monkeypatch.setattr(bot.identity, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    identity = IdentityService(cache_seconds=30)
    person = await identity.ensure_person("wechat", "o7")
    first = await identity.resolve("wechat", "o7")  # read at 1000, kept until 1030
    loads = []
    real_load = IdentityService._load

    async def counted(keys):
        loads.append(keys)
        return await real_load(keys)

    monkeypatch.setattr(IdentityService, "_load", staticmethod(counted))
    # Another process grants a role: this one is not told.
    await RoleGrant.create(person=person, role="member", org=None)
    clock[0] = 1015.0  # in the middle of its life: the cache, no read
    assert await identity.resolve("wechat", "o7") is first
    await asyncio.sleep(0.05)
    assert loads == []
    clock[0] = 1025.0  # in its last third: still the cache, and a read in the background
    assert await identity.resolve("wechat", "o7") is first
    for _ in range(200):
        if loads and not identity._refreshing:
            break
        await asyncio.sleep(0.01)
    assert loads == [[("wechat", "o7")]]
    clock[0] = 1050.0  # past the first read's life, within the second's (1025 + 30)
    caller = await identity.resolve("wechat", "o7")
    assert caller.top_role == "member" and len(loads) == 1
    clock[0] = 1056.0  # past both: read on the request's path, as before
    await identity.resolve("wechat", "o7")
    assert len(loads) == 2


async def test_a_group_used_late_in_its_cache_life_is_read_again_off_the_path(db, monkeypatch):
    """As for callers: a binding made by another process shows up through a read in the
    background, started by a message in the last third of the cached entry's life."""
    import asyncio
    from types import SimpleNamespace

    import bot.identity

    await seed()
    org = await Organization.get(code="SQ001")
    clock = [1000.0]
    monkeypatch.setattr(bot.identity, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    identity = IdentityService(cache_seconds=30)
    assert await identity.chat_org("onebot", "602") is None  # read at 1000: not bound
    reads = count_binding_reads(monkeypatch)
    await GroupBinding.create(platform="onebot", chat_id="602", org=org)  # another process
    clock[0] = 1015.0
    assert await identity.chat_org("onebot", "602") is None and reads == []
    clock[0] = 1025.0  # the cached answer, and a read in the background
    assert await identity.chat_org("onebot", "602") is None
    for _ in range(200):
        if reads and not identity._chat_loading:
            break
        await asyncio.sleep(0.01)
    assert len(reads) == 1
    clock[0] = 1050.0
    view = await identity.chat_org("onebot", "602")
    assert view is not None and view.code == "SQ001" and len(reads) == 1


async def test_orgs_under_is_the_subtree_at_every_depth(db):
    """orgs_under's statement (parameters and bounds for a deep prefix, written-in words
    for the district's and a street's) selects exactly each subtree; ids 2 and 20-29
    under one parent make the prefixes "/…/2/" and "/…/20/"."""
    await seed()
    root = await Organization.filter(parent_id=None).order_by("id").first()
    assert root is not None
    for i in range(30):
        parent = await Organization.create_in_tree(f"T{i:02d}", f"t{i}", "street", root)
        if i % 7 == 0:
            await Organization.create_in_tree(f"T{i:02d}C", f"t{i}c", "community", parent)
    everyone = await Organization.all()
    paths = sorted({o.path for o in everyone})
    assert any(p.count("/") <= 3 for p in paths) and any(p.count("/") > 3 for p in paths)

    async def ids(*under: str, exact: tuple[str, ...] = ()) -> set[int]:
        chosen = Organization.filter(id__in=orgs_under(under, exact=exact))
        return set(await chosen.values_list("id", flat=True))

    for p in paths:
        assert await ids(p) == {o.id for o in everyone if o.path.startswith(p)}, p
    two = [paths[1], paths[-1]]
    assert await ids(*two) == {o.id for o in everyone if o.path.startswith(tuple(two))}
    assert await ids(paths[-1], exact=(root.path,)) == {
        o.id for o in everyone if o.path.startswith(paths[-1]) or o.path == root.path
    }
    assert await ids() == set()
