"""/我的信息 与 /删除我的信息：一个人看自己的记录，删除自己的个人信息。"""

from __future__ import annotations

from models.checkin.registration import MemberRegistration
from models.checkin.transfer import TransferRequest
from models.people import Person


async def profile(person_id: int | None) -> Person | None:
    """The person with their home and local organisations (None: never wrote anything)."""
    if person_id is None:
        return None
    return await Person.filter(id=person_id).select_related("home_org", "local_org").first()


async def erase_person(person: Person) -> None:
    """删除我的信息：清空个人字段；登记、报到、接转的记录留下，但不再带姓名和电话。"""
    await Person.filter(id=person.id).update(
        display_name="",
        real_name=None,
        phone=None,
        home_branch="",
        member_type="",
        relation_status="",
        flow_status="",
        home_org_id=None,
        local_org_id=None,
    )
    await MemberRegistration.filter(person_id=person.id).update(
        real_name="", phone="", home_text="", pending_key=None
    )
    await MemberRegistration.withdraw_all(person.id)
    await TransferRequest.filter(person_id=person.id).update(reason="", reply_target="")
    await MemberRegistration.filter(person_id=person.id).update(reply_target="")
