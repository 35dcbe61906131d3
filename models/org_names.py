"""居民报社区名称也能找到组织：“和平社区”、“和平”、拼音 heping、同音字“河平社区”都指和平社区党委。

Residents do not know organisation codes (SQ001); they say the name of their community,
often without the 党委 at its end, in pinyin, or with a homophone the keyboard offered.
`org_from_answer` takes a code first, as before, then a name: one organisation that the
name clearly means is taken; names that only look alike are offered to choose from by
code, never acted on (the rule: `match_name`, tested without a database).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.fuzzy import has_han, normalize, pinyin_of
from bot.text import fold_width
from models.errors import DomainError
from models.people import Organization

# What people leave off a name: "和平社区党委" is "和平社区" to a resident.
_SUFFIX = re.compile(r"(党工委|党委|党总支|党支部|支部|居委会|委员会)$")
SUGGEST_SCORE = 60  # a name this close (0-100, rapidfuzz WRatio) is offered, never taken
SUGGESTIONS = 5
MIN_PINYIN = 4  # "he" would name half the district: a pinyin answer this long at least


@dataclass(frozen=True, slots=True)
class Named:
    """What matching needs to know of an organisation."""

    id: int
    code: str
    name: str


def core(name: str) -> str:
    """The name as people say it: width folded, no spaces, numerals as Chinese
    (第3 → 第三), without a trailing 党委 / 党支部 / 居委会."""
    folded = normalize(fold_width(name).replace(" ", "").replace("\u3000", ""))
    return _SUFFIX.sub("", folded) or folded


@lru_cache(maxsize=8192)
def _sound(name: str) -> str:
    return pinyin_of(name)  # names change rarely: each converted once per process


def match_name(typed: str, orgs: Sequence[Named]) -> tuple[Named | None, list[Named]]:
    """(the organisation `typed` names, or None; the ones to offer when unsure).

    Taken when exactly one organisation's name, as people say it, equals the answer,
    begins with it or contains it (at least two characters), or sounds the same or
    begins with the pinyin typed (at least four letters). Several such: all of them are
    offered. None: the names that look alike are offered."""
    said = core(typed)
    if not said or len(said) > 30:
        return None, []
    cores = [(o, core(o.name)) for o in orgs]
    for test in (
        lambda c: c == said,
        lambda c: c.startswith(said),
        lambda c: len(said) >= 2 and said in c,
    ):
        hits = [o for o, c in cores if test(c)]
        if hits:
            return (hits[0], []) if len(hits) == 1 else (None, hits[:SUGGESTIONS])
    ascii_typed = said.isascii() and said.isalpha()
    if ascii_typed and len(said) < MIN_PINYIN:
        return None, []
    if ascii_typed or has_han(said):
        sound = said if ascii_typed else _sound(said)
        for same in (lambda s: s == sound, lambda s: s.startswith(sound)):
            hits = [o for o, c in cores if same(_sound(c))]
            if hits:
                return (hits[0], []) if len(hits) == 1 else (None, hits[:SUGGESTIONS])
    from rapidfuzz import fuzz, process

    found = process.extract(
        said,
        {i: c for i, (_, c) in enumerate(cores)},
        scorer=fuzz.WRatio,
        limit=SUGGESTIONS,
        score_cutoff=SUGGEST_SCORE,
    )
    return None, [cores[i][0] for _, _, i in found]


async def org_from_answer(answer: str, kinds: Sequence[str]) -> Organization:
    """The organisation an answer names: its code (any organisation), or the name of one
    of `kinds`. DomainError ``unknown_org`` otherwise, with ``candidates`` (code, name)
    to choose from when some look alike."""
    found = await Organization.find(answer)
    if found is not None:
        return found
    rows = await Organization.filter(kind__in=list(kinds)).values_list("id", "code", "name")
    orgs = [Named(int(i), str(c), str(n)) for i, c, n in rows]
    # In a thread: the first pinyin of a district's 1,100 names takes ~0.2 s, which
    # would otherwise hold every member's message waiting (later ones are cached).
    chosen, offered = await asyncio.to_thread(match_name, answer, orgs)
    if chosen is not None:
        return await Organization.get(id=chosen.id)
    raise DomainError(
        "unknown_org",
        org_code=fold_width(answer).strip(),
        candidates=[(o.code, o.name) for o in offered],
    )
