"""Give each line of a page a role from what it looks like (lines.py) and where it stands.

A page reads top to bottom as: page furniture, maybe a section label, the title (sometimes
printed twice), maybe a teaser, a byline and a dateline in either order or on one line, maybe
photo lines, then the article's paragraphs (with agency subheadings and stray layout rows),
then the tail: "Related Links", topic hint lines and lists of related headlines. Any part may
be missing. Pure.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from . import lines as shape

Role = Literal[
    "date",  # the " date YYYY-MM-DD" prefix
    "furniture",  # belongs to the page, not the article
    "label",
    "title",
    "repeat",  # the title printed again
    "teaser",
    "aside",  # beside the article: a photo's text, a summary, a box of links
    "byline",
    "dateline",
    "caption",
    "body",
    "subheading",
    "related",  # "Related Links"
    "hint",  # "Learn about ... at SpaceWar.com"
    "separator",  # a row between groups of related headlines
    "headline",
]

_BULLETS = frozenset("•·▪◦")
# Furniture that heads a page with a header (a title under it); layout rows do not tell.
_HEADER_FURNITURE = frozenset(
    ["site tagline", "site banner", "newsletter line", "wire service mark"]
)
_DATE_PREFIX = re.compile(r"^\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)(?=\s|$)[ \t]*(.*)$", re.IGNORECASE)
HEAD_LINES = 14  # the header is within a page's first lines of text; after them, body
DATELINE_AHEAD = 12  # lines of asides (a photo text, a box of headlines) before a dateline
TEASER_WORDS = 12  # "Time to get real."; a lede is longer
TAIL_HEADLINE_CHARS = 250  # longer lines in the tail are page furniture, not headlines


class Line(NamedTuple):  # a tuple: pages have many lines, and this is made for each
    number: int  # 1-based, in the file
    text: str  # stripped; a dateline's own part when article text followed it on the line
    role: Role
    why: str
    date: str | None = None  # what a date, dateline or byline line dates the article to
    agency: str | None = None  # a dateline's "(AFP)"
    joined: bool = False  # a body line that continues the paragraph of the line before


def normalise(text: str) -> str:
    # U+FFFD stands where a curly quote or apostrophe failed to decode upstream.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffd", "'")
    return text.replace("\u00a0", " ").replace("\u200b", "").replace("\t", " ")


def assign(text: str) -> list[Line]:
    """Every non-blank line of `text` with its role (blank lines are left out). Where a text
    separates paragraphs by blank lines, a body line right under another is `joined` to it:
    one paragraph wrapped over several lines."""
    return _Page(normalise(text)).roles()


def _listed_headline(s: str) -> bool:
    """What follows a "|" row that starts the tail: headlines, which end without a period
    (but maybe with "..."), never sentences of the article."""
    return shape.headline_like(s) and (not s.endswith(".") or s.endswith("..."))


class _Page:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[int, str]] = []  # (line number, stripped text); "" for blank
        self.out: list[Line] = []
        started = False
        for number, raw in enumerate(text.split("\n"), 1):
            s = raw.strip()
            if "  " in s:
                s = " ".join(s.split())
            if s[:1] in _BULLETS:
                s = s[1:].lstrip()
            if s.startswith("!["):  # an image before a byline or dateline is the page's
                text = shape.strip_images(s)
                if text and (shape.byline(text) or shape.dateline(text)):
                    s = text
            if s and not started:
                started = True
                m = _DATE_PREFIX.match(s)
                if m:
                    self.out.append(Line(number, f"date {m.group(1)}", "date", "date prefix"))
                    self.items.append((number, m.group(2).strip()))
                    continue
            self.items.append((number, s))
        # Why each line is page furniture, or None: asked of most lines more than once.
        self.furniture = [shape.furniture(s) if s else None for _, s in self.items]

    def roles(self) -> list[Line]:
        start = self._head()
        end = self._tail_start(start)
        self._body(start, end)
        self._tail(end)
        return self.out

    # ---- the header -------------------------------------------------------------------------

    def _content(self, i: int, limit: int = 4) -> list[tuple[int, str]]:
        """The next `limit` lines of text from item i on that are not furniture or photos."""
        found: list[tuple[int, str]] = []
        for j in range(i, len(self.items)):
            s = self.items[j][1]
            if s and not self.furniture[j] and not shape.caption(s):
                found.append((j, s))
                if len(found) == limit:
                    break
        return found

    def _add(self, i: int, role: Role, why: str, **kw: str | None) -> None:
        number, s = self.items[i]
        self.out.append(Line(number, s, role, why, **kw))  # type: ignore[arg-type]

    def _head(self) -> int:
        """Give the header lines their roles; return the index of the first body item."""
        title: str | None = None
        state = "top"  # then "title", "byline", "dateline"
        furnished = False  # page furniture came first: the page has a header
        seen = 0
        skip_to = 0
        for i, (_, s) in enumerate(self.items):
            if not s or i < skip_to:
                continue
            if why := self.furniture[i]:
                self._add(i, "furniture", why)
                furnished = furnished or why in _HEADER_FURNITURE
                continue
            if why := shape.caption(s):
                self._add(i, "caption", why)
                continue
            seen += 1
            if seen > HEAD_LINES:
                return i
            if title is not None and s.casefold() == title.casefold():
                self._add(i, "repeat", "the title again")
                continue
            if shape.byline(s) and state != "dateline":
                found = shape.byline_dateline(s)
                if found:
                    self._add(i, "byline", "byline and dateline on one line", date=found.date)
                    state = "dateline"
                else:
                    self._add(i, "byline", 'starts with "by"')
                    state = "byline"
                continue
            if state != "dateline" and (found := shape.dateline(s)):
                if found.rest:  # the article starts on the dateline's line
                    return i
                self._add(
                    i, "dateline", "place, agency and date", date=found.date, agency=found.agency
                )
                state = "dateline"
                continue
            if state == "top":
                nxt = self._content(i + 1)
                if shape.caps_label(s) and nxt and shape.headline_like(nxt[0][1]):
                    self._add(i, "label", "ALL-CAPS line above the title")
                    continue
                if len(nxt) > 1 and shape.caps_label(nxt[0][1]) and shape.headline_like(nxt[1][1]):
                    self._add(i, "furniture", "tagline above a section label")
                    furnished = True
                    continue
                if shape.headline_like(s) and (furnished or self._header_follows(s, nxt)):
                    self._add(i, "title", "first heading-like line of the header")
                    title, state = s, "title"
                    continue
                return i
            if self._teaser(i, s, state):
                self._add(i, "teaser", "short line in the header")
                continue
            # The article starts here, unless a dateline follows within a few lines: then the
            # lines before it stand beside the article, which starts at the dateline.
            if state != "dateline" and (title is not None or furnished or state == "byline"):
                ahead = self._dateline_ahead(i)
                if ahead is not None:
                    self._asides(i, ahead)
                    skip_to = ahead
                    continue
            return i
        return len(self.items)

    def _dateline_ahead(self, i: int) -> int | None:
        for j, s in self._content(i + 1, DATELINE_AHEAD):
            if shape.dateline(s) or (shape.byline(s) and shape.byline_dateline(s)):
                return j
        return None

    def _asides(self, start: int, end: int) -> None:
        for j in range(start, end):
            s = self.items[j][1]
            if not s:
                continue
            if why := self.furniture[j]:
                self._add(j, "furniture", why)
            elif why := shape.caption(s):
                self._add(j, "caption", why)
            elif shape.byline(s):
                self._add(j, "byline", 'starts with "by"')
            else:
                self._add(j, "aside", "between the header and a dateline")

    def _header_follows(self, title: str, nxt: list[tuple[int, str]]) -> bool:
        """A title stands above a repeat of itself, a byline or a dateline (maybe after a
        teaser): without such a line under it, a short first line is the article's."""
        for k, (_, s) in enumerate(nxt[:3]):
            if s.casefold() == title.casefold() or shape.byline(s) or shape.dateline(s):
                return True
            if k == 0 and shape.word_count(s) > TEASER_WORDS:
                return False
        return False

    def _teaser(self, i: int, s: str, state: str) -> bool:
        """A short line between the title and the byline, or after the byline or dateline
        with the article still to come."""
        if shape.word_count(s) > TEASER_WORDS or shape.prose(s) or shape.dateline(s):
            return False
        nxt = self._content(i + 1, 2)
        if not nxt:
            return False
        if state == "title":
            return any(shape.byline(t) or shape.dateline(t) for _, t in nxt)
        # After the byline or dateline: only a short line that is not the article's first,
        # which the following line shows by being the longer paragraph.
        return shape.word_count(s) <= 8 and shape.word_count(nxt[0][1]) > 2 * shape.word_count(s)

    # ---- the tail -----------------------------------------------------------------------------

    def _tail_start(self, start: int) -> int:
        """Where the related-links tail begins: at "Related Links" or a topic hint line, or at
        a "|" row after the body that headlines, not paragraphs, follow."""
        body_seen = False
        for i in range(start, len(self.items)):
            s = self.items[i][1]
            if not s:
                continue
            if shape.related_line(s):
                return i
            if body_seen and (shape.hint_site(s) or shape.box_heading(s)):
                return i
            if shape.pipe_row(s) and body_seen:
                after = [t for _, t in self._content(i + 1, 2) if not shape.pipe_row(t)]
                if all(_listed_headline(t) for t in after):
                    return i
            if not self.furniture[i]:
                body_seen = True
        return len(self.items)

    def _tail(self, end: int) -> None:
        for i in range(end, len(self.items)):
            number, s = self.items[i]
            if not s:
                continue
            if shape.related_line(s):
                self.out.append(Line(number, s, "related", '"Related Links"'))
            elif shape.hint_site(s):
                self.out.append(Line(number, s, "hint", "topic page of a site"))
            elif shape.pipe_row(s) or self.furniture[i] or shape.box_heading(s):
                self.out.append(Line(number, s, "separator", "row between headline groups"))
            elif len(s) > TAIL_HEADLINE_CHARS:
                self.out.append(Line(number, s, "furniture", "too long for a headline"))
            else:
                self.out.append(Line(number, s, "headline", "related headline"))

    # ---- the body -----------------------------------------------------------------------------

    def _body(self, start: int, end: int) -> None:
        texts = [s for _, s in self.items[start:end]]
        while texts and not texts[-1]:
            texts.pop()
        # Blank-line separated paragraphs may be wrapped over several lines; without blank
        # lines, each line is a paragraph.
        blocky = "" in texts[next((k for k, t in enumerate(texts) if t), 0) :]
        first = True
        last_body = -2
        for i in range(start, end):
            number, s = self.items[i]
            if not s:
                continue
            if first and (found := shape.dateline(s)) and found.rest:
                dateline = s[: len(s) - len(found.rest)].rstrip()
                self.out.append(
                    Line(
                        number,
                        dateline,
                        "dateline",
                        "dateline before the first words",
                        date=found.date,
                        agency=found.agency,
                    )
                )
                s = found.rest
                self.furniture[i] = shape.furniture(s)
            if why := self.furniture[i]:
                self.out.append(Line(number, s, "furniture", why))
            elif why := shape.caption(s, sentences=not first):
                self.out.append(Line(number, s, "caption", why))
            elif shape.image_link(s):
                self.out.append(Line(number, s, "aside", "text beside an image: a link"))
            elif (found := shape.dateline(s)) and not found.rest:
                self.out.append(
                    Line(number, s, "dateline", "a dateline inside the body", date=found.date)
                )
            elif shape.subheading(s):
                self.out.append(Line(number, s, "subheading", "agency subheading"))
            elif text := shape.strip_images(s):
                joined = blocky and last_body == i - 1
                why = "continues the paragraph" if joined else "article text"
                self.out.append(Line(number, text, "body", why, joined=joined))
                first = False
                last_body = i


__all__ = ["Line", "Role", "assign", "normalise"]
