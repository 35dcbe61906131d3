"""Summarise a py-spy `--format raw` profile (folded stacks): where the server's CPU goes.

    python -m bench.profile bench/results/lianxin.folded [--top 25]

py-spy is not a project dependency: `.venv/bin/pip install py-spy`, then
`python -m bench.run --profile` records the lianxin server while it is measured.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Leaf frame's file → an area of the stack, first match wins.
AREAS = [
    ("sqlite (aiosqlite thread, sqlite3)", r"aiosqlite|sqlite3"),
    ("tortoise ORM / pypika", r"tortoise|pypika"),
    ("jinja2 templates", r"jinja2|<template>|\.j2"),
    ("prometheus metrics", r"prometheus_client"),
    ("logging + json", r"logging/|json/|bot/logs"),
    ("wechatpy / xmltodict / crypto", r"wechatpy|xmltodict|cryptography|defusedxml|xml/"),
    ("aiohttp server", r"aiohttp|multidict|yarl"),
    ("asyncio loop / selectors", r"asyncio|selectors|threading|concurrent"),
    ("lianxin code", r"\b(bot|handlers|models)/"),
]

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def label(frame: str) -> str:
    m = FRAME.match(frame)
    return f"{m['func']} ({m['file']})" if m else frame


def area(frame: str) -> str:
    for name, pattern in AREAS:
        if re.search(pattern, frame):
            return name
    return "other"


def summary(path: Path, top: int = 25) -> str:
    stacks = parse(path)
    total = sum(n for _, n in stacks) or 1
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for frames, n in stacks:
        self_time[label(frames[-1])] += n
        areas[area(frames[-1])] += n
        for f in {label(f) for f in frames}:
            inclusive[f] += n

    def table(title: str, counter: Counter[str], k: int) -> list[str]:
        rows = [f"{100 * n / total:5.1f} %  {name}" for name, n in counter.most_common(k)]
        return [title, *rows, ""]

    return "\n".join(
        [
            f"{total} samples of the lianxin server while it was measured",
            "",
            *table("by area (leaf frame):", areas, len(AREAS) + 1),
            *table("self time:", self_time, top),
            *table("inclusive time (frame anywhere on the stack):", inclusive, top),
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folded", type=Path)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    print(summary(args.folded, args.top))


if __name__ == "__main__":
    main()
