"""大白话 → 想办的事：“楼道灯坏了” → 诉求，“我的积分” → /积分。

The words live in templates/zh_CN/intents.toml, beside everything else the bot
says. A word counts when it appears in the text as written or as it sounds (its
toneless pinyin syllables: “楼道灯怀了” still has 坏了), so homophone typos of a
pinyin keyboard and of speech recognition are understood. No network, no model:
the intent whose words cover most of the text wins; ties go to the one listed
first. The syllables of every word are computed once, when the matcher is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from bot.fuzzy import normalize
from bot.text import fold_width

# Longer messages are not a request for a service we can recognise by words.
MAX_CHARS = 300


def _sounds(text: str) -> str:
    """' lou dao deng huai le ': syllables between spaces, so that a word's sound is
    found only on syllable boundaries."""
    from pypinyin import Style, lazy_pinyin  # heavy: only once someone writes plain words

    return " " + " ".join(lazy_pinyin(text, style=Style.NORMAL)) + " "


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    sound: str

    def found(self, text: str, sound: str) -> bool:
        return self.text in text or self.sound in sound


def _words(items: list[str]) -> tuple[_Word, ...]:
    return tuple(_Word(normalize(w), _sounds(normalize(w))) for w in items)


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    command: str  # the command (English key) it leads to
    # "run": say what the command says (read-only); "offer": ask "回复 1" first.
    action: str
    prompt: str  # the question of an offer
    words: tuple[_Word, ...]
    need: tuple[_Word, ...]  # one of these must be there too (when given)
    unless: tuple[_Word, ...]  # none of these may be there
    min_chars: int
    # In a group, only intents marked so are noticed (requests), and with more words.
    group: bool


@dataclass(frozen=True, slots=True)
class Found:
    intent: Intent
    score: int  # characters of the text its words cover


class IntentMatcher:
    def __init__(self, vocabulary: dict[str, Any]) -> None:
        self.intents = [
            Intent(
                name=item["name"],
                command=item["command"],
                action=item.get("action", "offer"),
                prompt=item.get("prompt", ""),
                words=_words(item["words"]),
                need=_words(item.get("need", [])),
                unless=_words(item.get("unless", [])),
                min_chars=int(item.get("min_chars", 2)),
                group=bool(item.get("group", False)),
            )
            for item in vocabulary["intent"]
        ]

    def detect(self, text: str, *, group: bool = False) -> Found | None:
        """The intent the text most likely expresses, or None (chatter, thanks, unknowns)."""
        text = normalize(fold_width(text))
        if not text or len(text) > MAX_CHARS:
            return None
        sound = _sounds(text)
        best: Found | None = None
        for intent in self.intents:
            if group and not intent.group:
                continue
            if len(text) < intent.min_chars:
                continue
            if any(w.found(text, sound) for w in intent.unless):
                continue
            if intent.need and not any(w.found(text, sound) for w in intent.need):
                continue
            score = sum(len(w.text) for w in intent.words if w.found(text, sound))
            if score and (best is None or score > best.score):
                best = Found(intent, score)
        return best


_MATCHERS: WeakKeyDictionary[Any, IntentMatcher] = WeakKeyDictionary()


def matcher_for(templates: Any) -> IntentMatcher:
    """One matcher per templates object (per process), built on first use."""
    found = _MATCHERS.get(templates)
    if found is None:
        found = _MATCHERS[templates] = IntentMatcher(templates.vocabulary("intents"))
    return found
