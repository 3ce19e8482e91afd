"""What one line of a page looks like, seen alone: the shapes ingest knows, one test each.
Pure. Where a line stands (before the title, after the byline, in the tail) is roles.py's.

Each test returns why the line has that shape (a few words, shown by `digest ingest
--explain`), or None.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dateutil import parser as dateparser

# ---- page furniture -----------------------------------------------------------------------

_TAGLINE_DOTS = re.compile(r"^\.\s+(.+?)\s+\.$")  # ". 24/7 Space News ."
# Taglines the sister sites print as a plain line, and the site each belongs to.
TAGLINE_SITES = {
    "24/7 space news": "SpaceDaily.com",
    "space industry and business news": "SpaceMart.com",
    "military space news, nuclear weapons, missile defense": "SpaceWar.com",
    "earth science news": "TerraDaily.com",
    "powering the world in the 21st century": "Energy-Daily.com",
    "the latest in space travel": "Space-Travel.com",
}
_LAYOUT_ROW = re.compile(r"^[|.\s]+$")  # "|", ".", ". | . |"
# Bounded, so that a long line of unclosed "![](" costs linear time, not quadratic.
_IMAGE_MD = re.compile(r"!\[[^\]\n]{0,300}\]\([^)\n]{0,1000}\)")
_SITE_BANNER = re.compile(
    r"^(?P<site>[\w-]+\.(?:com|net|org))\s+[-–—|:]\s+\S.{0,60}$", re.IGNORECASE
)
# "Copyright 1995-2006 ...", "© 2024 AFP", "The content herein ...": not "Copyright holders of
# the mission's images said ..." (an article's sentence).
_COPYRIGHT = r"(?:the content herein\b|(?:copyright\s*)?(?:©|\(c\))\s*\d{4}|copyright\s+\d{4})"
# The shapes of furniture lines, as one pattern: a page's every short line is tried once.
_FURNITURE = {
    "site tagline": r"24/7\s+[\w ,&-]{3,50}$",  # "24/7 Energy News Coverage"
    "site banner": _SITE_BANNER.pattern[1:],  # "SpaceWar.com - Your World At War"
    "no words": r"[\W_]+$",  # "-", "* * *": a break, or a line cut short
    "copyright notice": _COPYRIGHT,
    "newsletter line": (
        r"\|?\s*subscribe\s+(?:free\s+)?to\s+our\s+(?:free\s+)?(?:daily\s+)?newsletters?\b"
    ),
    "page control": (
        r"(?:tweet|share|email this article|comment on this article|advertisement|"
        r"free newsletters?|print|comments?|facebook|twitter|linkedin|reddit|"
        r"thanks for being there;?|via your|menu|search|home)$"
    ),
    # "SPACE WIRE" above agency copy, "SPACE.WIRE" below
    "wire service mark": r"space[ .]?wire$",
}
_NAMES = {f"k{i}": why for i, why in enumerate(_FURNITURE)}
_FURNITURE_LINE = re.compile(
    "|".join(f"(?P<k{i}>{p})" for i, p in enumerate(_FURNITURE.values())).replace(
        "(?P<site>", "(?:"
    ),
    re.IGNORECASE,
)
_LONG_COPYRIGHT = re.compile(_COPYRIGHT, re.IGNORECASE)
_NOTICE_CHARS = 200  # "... All rights reserved." ends a short notice, not an article's paragraph
_FURNITURE_CHARS = 80  # every furniture line is shorter, bar those starting with | . or !


def furniture(s: str) -> str | None:
    """Why `s` (stripped, not empty) belongs to the page rather than to any article."""
    if s[0] in "|.!":
        if _LAYOUT_ROW.match(s):
            return "layout row"
        if "![" in s:
            return "image row" if _LAYOUT_ROW.match(_IMAGE_MD.sub("", s) or "|") else None
        if _TAGLINE_DOTS.match(s):
            return "site tagline"
    elif len(s) > _FURNITURE_CHARS:
        # Most lines end here, after a test or two: this runs on every line of every page.
        if _LONG_COPYRIGHT.match(s) or (len(s) <= _NOTICE_CHARS and "ights reserved" in s):
            return "copyright notice"
        return None
    elif s.casefold() in TAGLINE_SITES:
        return "site tagline"
    m = _FURNITURE_LINE.match(s)
    if m and m.lastgroup:
        return _NAMES[m.lastgroup]
    if box_heading(s):  # "Earth News from TerraDaily.com": a site's own banner, or a box's
        return "site banner"
    return "copyright notice" if "ights reserved" in s else None


def tagline_site(s: str) -> str | None:
    """The site a tagline or banner names ("Space Industry and Business News": SpaceMart.com;
    "SpaceWar.com - Your World At War": SpaceWar.com)."""
    banner = _SITE_BANNER.match(s) or _BOX_HEADING.match(s)
    if banner:
        return banner.group("site")
    m = _TAGLINE_DOTS.match(s)
    text = (m.group(1) if m else s).strip().casefold()
    site = TAGLINE_SITES.get(text)
    if site is None and m:
        named = _SITE_IN_TEXT.search(m.group(1))
        site = named.group(1) if named else None
    return site


def image_link(s: str) -> bool:
    """Text after an image, in a table cell: a link to another story, not a paragraph."""
    return s.startswith("![") and bool(_IMAGE_MD.sub("", s).strip("| "))


def strip_images(s: str) -> str:
    """The line without image markup or the table pipes around it."""
    if "![" in s:
        s = _IMAGE_MD.sub("", s).strip()
    if s.startswith("|") or s.endswith("|"):
        s = s.strip("| ").strip()
    return s


# ---- header lines -------------------------------------------------------------------------

_BYLINE = re.compile(r"^(?:by|By|BY)\s+[A-Z\u00c0-\u024f]")
_BYLINE_SITE = re.compile(r"\bfor\s+([\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info))\b", re.IGNORECASE)
_SITE_IN_TEXT = re.compile(r"\b([A-Z][\w-]*\.(?:com|net|org))\b")
_CAPTION = re.compile(
    r"^(?:an?\s+)?(?:(?:file|stock|archive)\s+)?"
    r"(?:photo(?:graph)?|image|picture|illustration|caption)s?"
    r"(?:\s+(?:only|courtesy|credit)\b.*|\s*[:.].*|\s+\S+)?$",
    re.IGNORECASE,
)
_CAPTION_PREFIX = re.compile(r"^(?:(?:file|stock)\s+)?(?:photo|image|caption)\s*:", re.IGNORECASE)
# One photo (singular: "Images taken by the rover show ..." is an article's sentence).
_PHOTO_SENTENCE = re.compile(
    r"^(?:\S+\s+){0,2}(?:photo(?:graph)?|image|picture)\s+"
    r"(?:released|taken|made available|provided|handed out|distributed|dated|shows|showing)\b",
    re.IGNORECASE,
)
# Agency copy marks its sections with a short line between dashes: "- 'Difficult situation' -".
_SUBHEADING = re.compile(r"^[-–—]{1,2}\s+\S(?:.{0,100}\S)?\s+[-–—]{1,2}$")


def byline(s: str) -> bool:
    """ "by AFP Staff Writers"; not "By December, the agency will have ..." (a sentence)."""
    if not _BYLINE.match(s) or len(s) > 160 or s.endswith("."):
        return False
    second = s.split()[1].strip(",")
    return _INFO.month(second) is None and _INFO.weekday(second) is None


def byline_site(s: str) -> str | None:
    """The site a byline writes for ("by Jane Doe for SpaceDaily.com")."""
    m = _BYLINE_SITE.search(s)
    return m.group(1) if m else None


_CAPTION_WORDS = ("photo", "image", "picture", "caption", "illustration")


def caption(s: str, sentences: bool = True) -> str | None:
    """Why `s` is a photo line: "File Photo: ...", "Caption: ...", "Illustration only",
    "... (AFP PHOTO/...)", and with `sentences` "A photograph released by ... shows ..."
    (not where the article's first paragraph stands: that is the article's own sentence)."""
    if "AFP PHOTO" in s:
        return "photo caption"
    start = s[:48].lower()  # every caption names itself early: most lines end here
    if not any(word in start for word in _CAPTION_WORDS):
        return None
    if _CAPTION_PREFIX.match(s) or (sentences and _PHOTO_SENTENCE.match(s)):
        return "photo caption"
    if len(s) <= 80 and _CAPTION.match(s):
        return "photo or illustration line"
    return None


def subheading(s: str) -> bool:
    return bool(s) and s[0] in "-–—" and bool(_SUBHEADING.match(s))


def without_subheadings(body: Iterable[str]) -> list[str]:
    """A body's paragraphs without its agency subheadings ("-- Next steps --"): what a story's
    identity, lead and summary are made of, so keeping the subheadings for the story page
    changes none of those."""
    return [p for p in body if not subheading(p)]


def caps_label(s: str) -> bool:
    """An ALL-CAPS section label such as "MISSILE NEWS"."""
    return (
        len(s) <= 60
        and s.isupper()  # every cased character is upper case, and there is one
        and sum(c.isalpha() for c in s) >= 2
        and not s.endswith((".", "!", "?"))
    )


def word_count(s: str) -> int:
    return s.count(" ") + 1


def prose(s: str) -> bool:
    """Reads as a paragraph rather than a heading: long, or a full sentence of some length."""
    n = word_count(s)
    if n > 30 or len(s) > 220:
        return True
    return n >= 12 and s.rstrip("\"'”’) ").endswith((".", ":", ";"))


def headline_like(s: str) -> bool:
    """Short enough to be a title or a related headline, and not a sentence of prose."""
    return word_count(s) >= 2 and len(s) <= 200 and not prose(s)


# ---- dates and datelines ------------------------------------------------------------------

# The shape of a written date; which words are months, and whether the day exists, is the
# date library's to say (dateutil knows "Sept", "Oct." and the full names).
_DATE = r"[A-Z][a-z]{2,8}\.?\s+\d{1,2},?\s+\d{4}|\d{1,2}\s+[A-Z][a-z]{2,8}\.?,?\s+\d{4}"
_CREDIT = r"(?:(?:image|photo|file\s+photo)\s+\S+\s+)?"  # "image AFP/CCTV Sydney - ..."
# A dateline: a place, then "(AGENCY) date", "- date" or ", date (AGENCY)", then maybe a dash
# or a colon, and maybe the article's first words. "Sydney, Australia (SPX) Aug 03, 2009",
# "BEIJING (AFP) Oct 16, 2003", "Sydney - Oct. 25, 2000 This quiet ...".
_DATELINE = re.compile(
    rf"^{_CREDIT}(?P<place>[A-Z][^()\n]{{0,70}}?)\s*"
    rf"(?:\((?P<agency>[A-Za-z][\w .&/-]{{0,24}})\)\s*(?:[-–—]\s*)?(?P<date>{_DATE})"
    rf"|[-–—]+\s*(?P<date2>{_DATE})"
    rf"|,\s*(?P<date3>{_DATE})\s*\((?P<agency3>[A-Za-z][\w .&/-]{{0,24}})\))"
    rf"\s*(?:[-–—:]+\s*)?(?P<rest>.*)$"
)
_DATELINE_IN_BYLINE = re.compile(
    rf"\s(?P<line>[A-Z][^()\n]{{0,70}}?\s*"
    rf"(?:\([A-Za-z][\w .&/-]{{0,24}}\)\s*(?:[-–—]\s*)?|[-–—]+\s*)(?:{_DATE}).*)$"
)
_YEAR = re.compile(r" \d{4}\b")
_PLACE_WORDS = 8  # "Vandenberg Air Force Base, Calif." fits; a sentence does not


@dataclass(frozen=True, slots=True)
class Dateline:
    date: str  # YYYY-MM-DD
    agency: str | None
    rest: str  # the article text that follows on the same line, if any


@functools.lru_cache(maxsize=4096)
def parse_date(text: str) -> str | None:
    """ "Oct. 25, 2000" -> "2000-10-25"; None when the words are not a date."""
    month = next((w for w in text.replace(".", " ").split() if w.isalpha()), "")
    if _INFO.month(month) is None:  # "Monday 25, 2000" is no date
        return None
    try:
        when = dateparser.parse(text, default=_NO_DEFAULT)
    except (ValueError, OverflowError):
        return None
    if when.year < 1900 or when.year > 2200:
        return None
    return when.strftime("%Y-%m-%d")


_NO_DEFAULT = dateparser.parse("2000-01-01")
_INFO = dateparser.parserinfo()


def dateline(s: str) -> Dateline | None:
    """The dateline at the start of `s`, with any text that follows it."""
    # A year near the start, found in one quick scan, before the full pattern is tried: this
    # runs on every line of the body, and a date pattern's scan costs ten times as much.
    if not _YEAR.search(s, 0, 160):
        return None
    m = _DATELINE.match(s)
    if m is None or word_count(m.group("place")) > _PLACE_WORDS:
        return None
    place = m.group("place")
    # A sentence before the date is no place ("Washington D.C." is).
    if place.rstrip().endswith((".", "!", "?")) and word_count(place) > 3:
        return None
    date = parse_date(m.group("date") or m.group("date2") or m.group("date3"))
    if date is None:
        return None
    return Dateline(date, m.group("agency") or m.group("agency3"), m.group("rest").strip())


def byline_dateline(s: str) -> Dateline | None:
    """A dateline sharing the byline's line: "by Morris Jones Sydney, Australia (SPX) ..."."""
    for m in _DATELINE_IN_BYLINE.finditer(s):
        found = dateline(m.group("line"))
        if found is not None:
            return found
    return None


# ---- the tail -----------------------------------------------------------------------------

_RELATED = re.compile(r"^related\s+links:?$", re.IGNORECASE)
# "Learn about nuclear weapons doctrine and defense at SpaceWar.com", "All about missiles at
# SpaceWar.com": a topic page of one of the sites.
_HINT = re.compile(
    r"^(?P<text>.{3,160}?)\s+at\s+(?P<site>[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info))\.?$",
    re.IGNORECASE,
)
# "Space News from SpaceDaily.com": the heading of a box of another site's headlines.
_BOX_HEADING = re.compile(
    r"^.{3,60}?\s+from\s+(?P<site>[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info))$", re.IGNORECASE
)
_HINT_WORDS = 16


def related_line(s: str) -> bool:
    return s[0] in "Rr" and bool(_RELATED.match(s))


def hint_site(s: str) -> str | None:
    """The site of a topic hint line, or None when `s` is not one."""
    if " at " not in s and " At " not in s and " AT " not in s:
        return None
    if word_count(s) > _HINT_WORDS:
        return None
    m = _HINT.match(s)
    return m.group("site") if m else None


def box_heading(s: str) -> bool:
    return " from " in s and bool(_BOX_HEADING.match(s))


def pipe_row(s: str) -> bool:
    """A table row of the page layout: "|", "|Subscribe Free To Our Daily Newsletters"."""
    return s[0] == "|" or (s[0] == "." and bool(_LAYOUT_ROW.match(s)))


__all__ = [
    "TAGLINE_SITES",
    "Dateline",
    "box_heading",
    "byline",
    "byline_dateline",
    "byline_site",
    "caps_label",
    "caption",
    "dateline",
    "furniture",
    "headline_like",
    "hint_site",
    "image_link",
    "parse_date",
    "pipe_row",
    "prose",
    "related_line",
    "strip_images",
    "subheading",
    "tagline_site",
    "word_count",
]
