"""网格的纯规则（不碰数据库）：地址怎么写都能认、走访方式、年度配额与进度、失联阶梯。

Everything here is a function of its arguments, so tests/unit/ checks it without a
database; the models (households.py, ladder.py) call these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz, process

from bot.text import fold_width
from models.errors import DomainError

# -- 地址 -------------------------------------------------------------------------
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百]+")
# 5栋3单元301室 · 5号楼301 · 5幢3-301 · 5-3-301 · 5#301 · 5栋 3单元 301
_BUILDING = r"(?P<b>\d+)\s*(?:号楼|栋|幢|座|号|#|楼|-)"
_UNIT = r"(?:\s*(?P<u>\d+)\s*(?:单元|-))?"
_ROOM = r"\s*(?P<r>\d+)\s*(?:室|号|户)?"
_PLACE = re.compile(rf"^{_BUILDING}{_UNIT}{_ROOM}$")
_SPACES = re.compile(r"[\s,，。.、]+")


def _cn_to_int(word: str) -> str:
    """三十五 → 35, 五 → 5, 三零一 → 301 (digit by digit when there is no 十/百)."""
    if "十" not in word and "百" not in word:
        return "".join(str(_DIGITS[c]) for c in word)
    total, current = 0, 0
    for c in word:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[c]
    return str(total + current)


def fold_address(text: str) -> str:
    """Half-width, lower case, Chinese numerals as digits, dashes unified, no spaces."""
    t = fold_width(text or "").strip().lower()
    t = _CN_NUMBER.sub(lambda m: _cn_to_int(m.group(0)), t)
    t = re.sub(r"[—–－~～_]", "-", t)
    return _SPACES.sub("", t)


@dataclass(frozen=True, slots=True)
class Place:
    """A place as typed: 楼栋-单元-室 when it reads like one, else free text."""

    building: str = ""
    unit: str = ""
    room: str = ""
    text: str = ""  # the folded free text when it is not 楼栋-单元-室

    @property
    def structured(self) -> bool:
        return bool(self.room)

    @property
    def key(self) -> str:
        """The normalised form stored on a household and compared when matching."""
        if self.structured:
            return f"{self.building}-{self.unit}-{self.room}"
        return self.text

    def same_door(self, other: Place) -> bool:
        """Same building and room; the unit only counts when both name it."""
        if not (self.structured and other.structured):
            return False
        if (self.building, self.room) != (other.building, other.room):
            return False
        return not (self.unit and other.unit) or self.unit == other.unit


def parse_place(text: str) -> Place:
    folded = fold_address(text)
    # A leading 小区 name stays out of the door number: "和平里5栋301" → 5栋301.
    m = _PLACE.match(folded) or _PLACE.match(re.sub(r"^\D+", "", folded))
    if m:
        return Place(
            str(int(m.group("b"))),
            str(int(m.group("u"))) if m.group("u") else "",
            str(int(m.group("r"))),
        )
    return Place(text=folded)


def place_of_key(key: str) -> Place:
    parts = key.split("-")
    if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit():
        return Place(parts[0], parts[1], parts[2])
    return Place(text=key)


@dataclass(frozen=True, slots=True)
class Door:
    """What matching needs to know about a household."""

    id: int
    key: str  # Household.address_key
    head: str = ""  # the head of household's name


FUZZY_ACCEPT = 85  # a free-text place this close (0-100) is taken when it stands alone
FUZZY_SUGGEST = 60  # …this close is offered as "did you mean"
FUZZY_GAP = 10


def match_place(typed: str, doors: Sequence[Door]) -> tuple[Door | None, list[Door]]:
    """(the household meant, or None; the candidates to offer when unsure).

    A door number (5栋301) must agree with a household's building and room: a near
    miss is only suggested, never taken (5栋302 is another family). Free text, or a
    head of household's name, is matched fuzzily (rapidfuzz).
    """
    place = parse_place(typed)
    if place.structured:
        exact = [d for d in doors if place.same_door(place_of_key(d.key))]
        if len(exact) == 1:
            return exact[0], []
        if exact:
            return None, exact
    folded = fold_address(typed)
    named = [d for d in doors if d.head and fold_address(d.head) == folded]
    if len(named) == 1:
        return named[0], []
    if named:
        return None, named
    choices = {d.id: d.key for d in doors} | {-d.id: fold_address(d.head) for d in doors if d.head}
    hits = process.extract(
        place.key or folded, choices, scorer=fuzz.WRatio, limit=6, score_cutoff=FUZZY_SUGGEST
    )
    by_id = {d.id: d for d in doors}
    ranked: list[tuple[Door, float]] = []
    for _, score, cid in hits:
        door = by_id[abs(cid)]
        if door not in [d for d, _ in ranked]:
            ranked.append((door, score))
    if not ranked:
        return None, []
    best, score = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0
    if not place.structured and score >= FUZZY_ACCEPT and score - runner >= FUZZY_GAP:
        return best, []
    return None, [d for d, _ in ranked[:3]]


def normalize_tags(raw: str | Iterable[str], allowed: Sequence[str]) -> list[str]:
    """Tags from a cell or a list ("独居老人、党员户"); unknown ones are refused."""
    words = raw if not isinstance(raw, str) else re.split(r"[,，、;；/\s]+", fold_width(raw))
    tags = [w.strip() for w in words if w and w.strip()]
    for t in tags:
        if t not in allowed:
            raise DomainError("grid_bad_tag", tag=t, allowed="、".join(allowed))
    return list(dict.fromkeys(tags))


# -- 走访方式 -----------------------------------------------------------------------
MODES = ("visit", "phone", "wechat", "other")  # 上门 / 电话 / 微信 / 其他
DEFAULT_MODE = "visit"


def split_visit_line(words: str, mode_words: Mapping[str, Sequence[str]]) -> tuple[str, str, str]:
    """ "5栋301 电话 反映下水道堵" → (place, mode, note); the mode may be left out."""
    text = fold_width(words or "").strip()
    place, _, rest = text.partition(" ")
    rest = rest.strip()
    first, _, after = rest.partition(" ")
    for mode, names in mode_words.items():
        if first in names:
            return place, mode, after.strip()
    # "电话反映下水道堵": the mode glued to the note
    for mode, names in mode_words.items():
        for name in sorted(names, key=len, reverse=True):
            if rest.startswith(name) and len(name) >= 2:
                return place, mode, rest[len(name) :].strip()
    return place, DEFAULT_MODE, rest


def reads_as_request(note: str, words: Iterable[str]) -> bool:
    """The note mentions a problem someone should fix (the service's request vocabulary)."""
    return any(w and w in note for w in words)


# -- 配额与进度 -------------------------------------------------------------------------
def expected_visits(quota: int, month: int) -> int:
    """Visits a household should have had by the end of the current period of the year.

    The year is cut into `quota` equal periods (4 a year: quarters); in the k-th period
    k visits are expected. Month 1-12.
    """
    if quota <= 0:
        return 0
    return min(quota, (month - 1) * quota // 12 + 1)


def is_due(visits_this_year: int, quota: int, month: int) -> bool:
    return visits_this_year < expected_visits(quota, month)


@dataclass(frozen=True, slots=True)
class HouseholdYear:
    """One household's year so far, as progress needs it."""

    id: int
    label: str
    visits: int
    last_visit: date | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    assigned: int
    visited: int  # at least one visit this year
    met: int  # visits ≥ the yearly quota
    due: tuple[HouseholdYear, ...]  # behind the year's pace, most behind first
    quota: int

    @property
    def coverage(self) -> int:
        """Per cent of households visited at least once this year."""
        return round(100 * self.visited / self.assigned) if self.assigned else 0


def due_order(h: HouseholdYear) -> tuple[int, date, int]:
    return (h.visits, h.last_visit or date.min, h.id)


def progress(households: Iterable[HouseholdYear], quota: int, month: int) -> Progress:
    rows = list(households)
    due = sorted((h for h in rows if is_due(h.visits, quota, month)), key=due_order)
    return Progress(
        assigned=len(rows),
        visited=sum(1 for h in rows if h.visits > 0),
        met=sum(1 for h in rows if h.visits >= quota),
        due=tuple(due),
        quota=quota,
    )


def over_quota(households: int, per_worker: int) -> int:
    """Households beyond what one grid member should look after (0 when within)."""
    return max(0, households - per_worker)


# -- 月份与失联阶梯 -----------------------------------------------------------------------
def month_index(day: date) -> int:
    """Months since year 0: differences are month counts."""
    return day.year * 12 + day.month - 1


def month_of_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def month_label(day: date | None) -> str:
    return f"{day.year}-{day.month:02d}" if day else ""


def unreached_months(last_contact: date, today: date) -> int:
    """Whole calendar months since the month of the last contact, the running one not
    counted: last contact in July, on 1 November → August, September, October = 3."""
    return max(0, month_index(today) - month_index(last_contact) - 1)


NORMAL, SUSPECTED, LOST = "normal", "suspected", "lost"  # 正常 / 疑似失联 / 失联
STAGES = (NORMAL, SUSPECTED, LOST)


def ladder_stage(unreached: int, confirmed: bool, suspect_after: int = 3) -> str:
    """正常 → 疑似失联 after `suspect_after` unreached months → 失联 once confirmed."""
    if confirmed:
        return LOST
    return SUSPECTED if unreached >= suspect_after else NORMAL


def may_confirm(stage: str, unreached: int, confirm_after: int = 6) -> bool:
    """The branch secretary confirms 失联 only for a suspect unreached this long."""
    return stage == SUSPECTED and unreached >= confirm_after
