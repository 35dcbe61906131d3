"""按字、按拼音找人想说的词：/报道 → /报到，/qiandao → /签到，/三会1课 → /三会一课。

People type with a pinyin keyboard and pick the wrong homophone (报道 for 报到), or
type the pinyin itself, or a digit for a Chinese numeral. Words are compared on
their characters first (edit distance) and on their toneless pinyin second. The
pinyin of every known word is computed once, when the index is first asked; a lookup
converts only the word typed. pypinyin's dictionaries take ~55 MB and 0.4 s to load, so
they are imported then too: a bot that is only sent commands never loads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")
# Longer than any command: not worth a guess (and a 4,000-character word costs nothing).
MAX_WORD = 12


def has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def normalize(word: str) -> str:
    """Lower case; digits read as Chinese numerals when the word is Chinese (三会1课)."""
    word = word.strip().lower()
    return word.translate(_DIGITS) if has_han(word) else word


def pinyin_of(text: str) -> str:
    """'签到' → 'qiandao' (toneless, ü as v, as a pinyin keyboard takes it); other
    characters are kept as they are, so 'qiandao' → 'qiandao'."""
    from pypinyin import Style, lazy_pinyin  # heavy: on first use (see the module's doc)

    return "".join(lazy_pinyin(normalize(text), style=Style.NORMAL)).replace(" ", "")


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    word: str  # the known word that matched
    value: T
    # The same word as typed, up to homophones, pinyin or numerals: safe to act on.
    confident: bool


class WordIndex(Generic[T]):
    """Known words (command names, vocabulary) with their pinyin, built once."""

    def __init__(self, words: Iterable[tuple[str, T]]) -> None:
        self._words = list(words)
        self._entries: list[tuple[str, str, T]] | None = None
        self._by_pinyin: dict[str, list[int]] = {}

    @property
    def entries(self) -> list[tuple[str, str, T]]:
        """(word, its pinyin, value) of every known word, converted on first use."""
        if self._entries is None:
            entries: list[tuple[str, str, T]] = []
            for word, value in self._words:
                key = normalize(word)
                self._by_pinyin.setdefault(pinyin_of(key), []).append(len(entries))
                entries.append((key, pinyin_of(key), value))
            self._entries = entries
        return self._entries

    @property
    def by_pinyin(self) -> dict[str, list[int]]:
        if self._entries is None:
            self.entries  # noqa: B018 (builds both)
        return self._by_pinyin

    def closest(self, typed: str, allowed: Callable[[T], bool] | None = None) -> Match[T] | None:
        """The nearest known word: fewest character edits first, then the most similar
        pinyin. Confident when the pinyin is the same and names one value only."""
        word = normalize(typed)
        if not word or len(word) > MAX_WORD:
            return None
        ok = allowed or (lambda _v: True)
        sound = pinyin_of(word)
        same = [self.entries[i] for i in self.by_pinyin.get(sound, ()) if ok(self.entries[i][2])]
        if same:
            exact = [e for e in same if e[0] == word]
            key, _, value = (exact or same)[0]
            unique = bool(exact) or all(e[2] == value for e in same)
            return Match(key, value, confident=unique)
        from rapidfuzz.distance import OSA, Levenshtein

        # Letters typed are pinyin typed: count their edits against pinyin.
        typed_pinyin = word.isascii()
        best: tuple[tuple[int, float], tuple[str, str, T]] | None = None
        for entry in self.entries:
            if not ok(entry[2]):
                continue
            rank = (
                OSA.distance(word, entry[1] if typed_pinyin else entry[0]),
                Levenshtein.normalized_distance(sound, entry[1]),
            )
            if best is None or rank < best[0]:
                best = (rank, entry)
        if best is None:
            return None
        (edits, sound_gap), (key, sound_of_key, value) = best
        # Close enough to be worth asking: most characters right, or it sounds alike.
        size = len(sound_of_key) // 3 if typed_pinyin else len(key) // 2
        if edits <= max(1, size) or sound_gap <= 0.34:
            return Match(key, value, confident=False)
        return None
