"""手机输入法产生的文本：全角斜杠与空格、中文标点、@提及、引号参数；按字节截断。"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.cn import ric

# Full-width ASCII (！..～) to half-width, ideographic space to space; one char to one
# char, so positions in the folded text match the original.
_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_WIDTH[0x3000] = 0x20
_WIDTH[0x2005] = 0x20  # WeChat puts a four-per-em space after an @mention
_WIDTH[0xA0] = 0x20

# "/" on a Chinese keyboard types "、"; both "／" and "、" open a command.
COMMAND_PREFIXES = ("/", "、")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@[^\s@]+)+\s*")
# Punctuation people put between a command and its argument: "/绑定：DEMO".
_ARG_LEAD = ":：,，、;；"
# What a phone keyboard puts after a word: "/帮助。" is /帮助 (after folding, "！？，"
# are "!?,"). A command word ends at these; left alone they are not an argument.
_TRAILING = "。!?,、.！？，"
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』"}


def fold_width(text: str) -> str:
    return text.translate(_WIDTH)


def strip_mentions(text: str) -> str:
    """Remove leading "@连心 " text a client leaves in front of the words."""
    if "@" not in text:  # most messages: no regex pass
        return text
    return _LEADING_MENTIONS.sub("", text, count=1)


@dataclass(slots=True, frozen=True)
class CommandText:
    word: str  # the command word as typed, folded ("帮助", "help")
    rest: str  # the original text after the command word, trimmed


_COMMAND_WORD = re.compile(r"[^\s:：,，;；。、]+")
_MENTION_SPACE = {0x2005: 0x20}


# Short texts come again and again ("/帮助", "/我"): their split is kept (a pure function).
_SPLITS: dict[str, CommandText | None] = {}
_SPLIT_KEEP_CHARS = 32
_SPLIT_KEEP = 4096


def split_command(text: str) -> CommandText | None:
    """Return the command word and the rest, or None when the text is not a command."""
    if len(text) > _SPLIT_KEEP_CHARS:
        return _split_command(text)
    try:
        return _SPLITS[text]
    except KeyError:
        pass
    if len(_SPLITS) >= _SPLIT_KEEP:
        _SPLITS.clear()
    parsed = _SPLITS[text] = _split_command(text)
    return parsed


def _split_command(text: str) -> CommandText | None:
    folded = fold_width(strip_mentions(fold_width(text))).strip()
    if not folded or folded[0] not in COMMAND_PREFIXES:
        return None
    body = folded[1:].lstrip()
    m = _COMMAND_WORD.match(body)
    if not m:
        return CommandText("", "")
    word = m.group(0).rstrip(_TRAILING)  # "帮助!" but "<!doctype" stays a word
    # Keep the original characters of the rest: content like "路灯坏了，请修" stays as typed.
    spaced = text.translate(_MENTION_SPACE) if "\u2005" in text else text
    original = strip_mentions(spaced).strip()[1:].lstrip()
    rest = original[m.end() :].strip().lstrip(_ARG_LEAD + _TRAILING).strip()
    return CommandText(word.lower(), rest)


def split_glued(word: str, names: list[str]) -> tuple[str, str] | None:
    """ "/绑定DEMO01" → ("绑定", "DEMO01"): Chinese is typed without spaces.

    `names` must be sorted longest first so "取消报名" wins over "取消".
    """
    for name in names:
        if word.startswith(name) and len(word) > len(name):
            return name, word[len(name) :]
    return None


def trim_trailing(word: str) -> str:
    """ "12。" → "12": the full stop a phone keyboard adds after an argument."""
    return word.rstrip(_TRAILING)


def tokenize(rest: str) -> list[str]:
    """Split arguments on spaces; quotes (ASCII or Chinese) keep spaces inside one argument.

    An unclosed quote takes the rest of the line rather than failing.
    """
    s = fold_width(rest)
    tokens: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c in _QUOTES:
            close = _QUOTES[c]
            j = s.find(close, i + 1)
            if j == -1:
                tokens.append(s[i + 1 :].strip())
                break
            tokens.append(s[i + 1 : j])
            i = j + 1
            continue
        j = i
        while j < n and not s[j].isspace():
            j += 1
        tokens.append(s[i:j])
        i = j
    return [t for t in tokens if t != ""]


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def shorten(text: str, max_bytes: int, ellipsis: str = "…") -> str:
    """Cut to at most max_bytes of UTF-8 without breaking a character, marking the cut."""
    if utf8_len(text) <= max_bytes:
        return text
    budget = max_bytes - utf8_len(ellipsis)
    cut = text.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return cut.rstrip() + ellipsis


def split_for_limit(text: str, max_bytes: int) -> list[str]:
    """Split a long text into parts of at most max_bytes, on line ends where possible."""
    if utf8_len(text) <= max_bytes:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if utf8_len(candidate) <= max_bytes:
            current = candidate
            continue
        if current:
            parts.append(current)
        while utf8_len(line) > max_bytes:
            head = line.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
            parts.append(head)
            line = line[len(head) :]
        current = line
    if current:
        parts.append(current)
    return parts


# Also as people space it out: "138 1234 1234", "138-1234-1234".
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")


# Every _PHONE match also matches this; it starts with a literal, which the regex engine
# finds by a fast scan (the look-behind in front of _PHONE makes it try every position).
_PHONE_HINT = re.compile(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}")


def mask_phones(text: str) -> str:
    """138****1234: logs and other people never see a full mobile number."""
    if len(text) < 11 or not _PHONE_HINT.search(text):  # nothing to mask: no copy, no scan
        return text
    return _PHONE.sub(r"\1****\3", text)


_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def _mask_id(m: re.Match[str]) -> str:
    number = m.group(0)
    return f"{number[:4]}**********{number[-4:]}" if ric.is_valid(number) else number


# Long texts found to hold nothing to mask (the same menus and help pages go out over and
# over): scanning one costs tens of µs, looking it up a hash. Never a text with a number.
_CLEAN: set[str] = set()
_CLEAN_MIN_CHARS = 200
_CLEAN_MAX_CHARS = 400_000  # about 1 MB kept at most; emptied when full
_clean_chars = 0


def mask_private(text: str) -> str:
    """Mobile numbers and (checksum-valid, 18-digit) ID-card numbers masked: what people
    other than the author and the officers in scope may see of free text."""
    if len(text) < 11:  # shorter than any phone or ID-card number
        return text
    if text in _CLEAN:
        return text
    masked = mask_phones(_ID_CARD.sub(_mask_id, text))
    if masked == text and len(text) >= _CLEAN_MIN_CHARS:
        global _clean_chars
        if _clean_chars + len(text) > _CLEAN_MAX_CHARS:
            _CLEAN.clear()
            _clean_chars = 0
        _CLEAN.add(text)
        _clean_chars += len(text)
    return masked
