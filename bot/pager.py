"""一屏一条：长回复分页，先发第一页，“回复 更多”再发下一页。

Most members read on a phone, many of them over sixty: a reply longer than about one
screen (`[bot] page_chars`, 300 characters; 0 turns paging off) is cut at line breaks
into pages. The first goes out with a note; the rest wait in `ReplyPages`, one set per
person and chat, for /更多 (handlers/help.py). When the pages cannot be kept (the
database is away) the whole text goes out, as before: never a lost answer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.inbound import Reply

if TYPE_CHECKING:
    from bot.inbound import Inbound
    from bot.templates import Templates

log = logging.getLogger("lianxin.pager")

# Pages wait this long for "更多"; a later "更多" hears there is nothing more.
KEEP = timedelta(hours=24)


def split_pages(text: str, limit: int) -> list[str]:
    """``text`` in pages of at most ``limit`` characters, cut between lines; a line
    longer than a page is cut inside. Blank lines at a cut are dropped."""
    if limit <= 0 or len(text) <= limit:
        return [text]
    pages: list[str] = []
    page = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one endless line (a pasted text): cut inside it
            if page:
                pages.append(page)
                page = ""
            pages.append(line[:limit])
            line = line[limit:]
        joined = f"{page}\n{line}" if page else line
        if len(joined) > limit:
            pages.append(page)
            page = line
        else:
            page = joined
    if page.strip():
        pages.append(page)
    return [p.strip("\n") for p in pages if p.strip()]


def with_note(templates: Templates, page: str, index: int, total: int, is_group: bool) -> str:
    """A page with the line that says how to read on (none on the last page)."""
    if index >= total:
        return page
    note = templates.render("more_note", page=index, pages=total, is_group=is_group)
    return f"{page}\n{note}"


async def paged(
    templates: Templates, inb: Inbound, replies: list[Reply], limit: int, now: datetime
) -> list[Reply]:
    """``replies`` with the first long one cut to its first page, the rest kept."""
    from models.replies import ReplyPages

    for i, reply in enumerate(replies):
        pages = split_pages(reply.text, limit)
        if len(pages) < 2:
            continue
        try:
            await ReplyPages.keep(inb.user_key, inb.chat_key, pages[1:], len(pages), now + KEEP)
        except Exception:  # whatever it is: the whole text rather than a lost rest
            log.warning("reply pages not kept for %s; sent whole", inb.user_key, exc_info=True)
            return replies
        first = with_note(templates, pages[0], 1, len(pages), inb.is_group)
        return [*replies[:i], Reply(first, reply.at_sender), *replies[i + 1 :]]
    return replies
