"""Parse story documents (scraped article pages) into Document values. Pure: text in,
Document out; reading files and the worker pool are files.py's.

roles.py gives each line of a page its role (furniture, title, byline, dateline, body, tail...);
this module gathers the roles into a Document: the date, the title (the page's own, else the
related headline that best matches the body, else the first sentence), the source, the body's
paragraphs, the hint lines and the groups of related headlines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DocumentError
from ..model import Document
from ..text import STEMS, first_sentence, match_key, words, words_per_line
from . import lines as shape
from .roles import Line, assign

_FILENAME_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")  # controls no text file has

MAX_TITLE_CHARS = 100
_SITE_LINES = ("site tagline", "site banner")  # furniture that names the page's site


@dataclass
class _Parts:
    """The roles of a page's lines, gathered into what a Document is made of."""

    date: str | None = None  # from the date prefix
    dateline_date: str | None = None
    agency: str | None = None
    title: str | None = None
    label: str | None = None
    source: str | None = None
    wire: bool = False
    body: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)


def _gather(roles: list[Line]) -> _Parts:
    parts = _Parts()
    groups: list[list[str]] = [[]]
    tagline_site: str | None = None
    byline_site: str | None = None
    hint_site: str | None = None
    for line in roles:
        role, s = line.role, line.text
        if role == "subheading":
            # Kept in the body between paragraphs, where a story page shows it as a heading
            # (without_subheadings() leaves it out of its identity, lead and summary).
            if parts.body:
                parts.body.append(s)
        elif role == "body":
            if line.joined and parts.body and not shape.subheading(parts.body[-1]):
                parts.body[-1] = f"{parts.body[-1]} {s}"
            else:
                parts.body.append(s)
        elif role == "headline":
            groups[-1].append(s)
        elif role == "separator":
            groups.append([])
        elif role == "hint":
            parts.hints.append(s)
            hint_site = hint_site or shape.hint_site(s)
        elif role == "date":
            parts.date = s.split()[1]
        elif role in ("dateline", "byline") and line.date:
            parts.dateline_date = parts.dateline_date or line.date
            parts.agency = parts.agency or line.agency
        elif role == "title":
            parts.title = s
        elif role == "label":
            parts.label = s
        elif role == "furniture" and line.why == "wire service mark":
            parts.wire = True
        elif role == "furniture" and tagline_site is None and line.why in _SITE_LINES:
            tagline_site = shape.tagline_site(s)
        if role == "byline":
            byline_site = byline_site or shape.byline_site(s)
    parts.groups = [g for g in groups if g]
    # Who the story is credited to: agency copy to the agency; else the site whose tagline
    # heads the page, the site a byline writes for, or the site the tail links topics on.
    wire_agency = parts.agency if parts.wire else None
    parts.source = wire_agency or tagline_site or byline_site or hint_site
    return parts


def _best_headline(
    body_words: list[list[str]], groups: list[list[str]], words_of: dict[str, list[str]]
) -> str | None:
    """The related headline that best matches the body's words (given per paragraph), when
    one matches well."""
    stem_of = STEMS.__getitem__
    # The lede says what the story is about: its words count three times. All the counting
    # runs in C (this was a third of the parse).
    lede = [w for para in body_words[:2] for w in para]
    rest = [w for para in body_words[2:12] for w in para]
    counts = Counter(map(stem_of, [*lede, *lede, *lede, *rest]))
    del counts[""]  # stop words
    best: tuple[float, str] | None = None
    for group in groups:
        for h in group:
            tokens = set(map(stem_of, words_of[h]))
            tokens.discard("")
            if len(tokens) < 2:
                continue
            found = tokens & counts.keys()
            coverage = len(found) / len(tokens)
            if len(found) < 2 or coverage < 0.5:
                continue
            strength = sum([min(counts[w], 6) for w in found]) / (6 * len(tokens))
            score = coverage + strength
            if best is None or score > best[0]:
                best = (score, h)
    return best[1] if best else None


def _sentence_title(body: list[str]) -> str:
    sentence = first_sentence(body[0]).rstrip(" .!?;:,")
    if len(sentence) <= MAX_TITLE_CHARS:
        return sentence
    cut = sentence[: MAX_TITLE_CHARS + 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–—")


def _real_date(date: str) -> bool:
    """ "2024-02-30" and "2024-13" are not dates; "2024-02-29" and "2024-02" are."""
    try:
        dt.date.fromisoformat(date if len(date) == 10 else f"{date}-01")
    except ValueError:
        return False
    return True


def parse_document(text: str, path: str = "<text>", default_date: str | None = None) -> Document:
    """Parse one document's text. Raises DocumentError when there is no body or no date."""
    return parse_with_fingerprint(text, path, default_date)[0]


def parse_with_fingerprint(text: str, path: str, default_date: str | None) -> tuple[Document, str]:
    """The document and its fingerprint, from one pass over the body's words."""
    parts = _gather(assign(text))
    if parts.date and not _real_date(parts.date):
        raise DocumentError(path, f"'date {parts.date}' is not a calendar date", 1)
    while parts.body and shape.subheading(parts.body[-1]):
        parts.body.pop()  # a subheading heads what follows it: at the end, nothing does
    body = [p for p in parts.body if p]
    if not shape.without_subheadings(body):
        raise DocumentError(path, "no body text")
    m = _FILENAME_DATE.search(Path(path).name)
    date = parts.date or parts.dateline_date or (m.group(1) if m else None) or default_date
    if date is None:
        raise DocumentError(path, "no date (no 'date YYYY-MM-DD' line, dateline or dated name)")

    groups = parts.groups
    heads = [h for g in groups for h in g]
    words_of = dict(zip(heads, words_per_line(heads), strict=True))  # each tokenised once
    body_words = words_per_line(shape.without_subheadings(body))
    if parts.title:
        title, title_source = parts.title, "document"
    else:
        best = _best_headline(body_words, groups, words_of)
        if best:
            title, title_source = best, "headline"
        else:
            title, title_source = _sentence_title(shape.without_subheadings(body)), "sentence"
    own = match_key(title)
    groups = [[h for h in g if " ".join(words_of[h]) != own] for g in groups]
    doc = Document(
        date=date,
        title=title,
        title_source=title_source,  # type: ignore[arg-type]
        source=parts.source,
        section_label=parts.label,
        body=tuple(body),
        related_links=tuple(parts.hints),
        headline_groups=tuple(tuple(g) for g in groups if g),
    )
    return doc, _fingerprint([w for para in body_words for w in para])


def decode(data: bytes, path: str) -> str:
    """Bytes to text, refusing what is not a text document."""
    if not data.strip():
        raise DocumentError(path, "empty file")
    # The whole text (one scan in C): a NUL far down a page would reach a title or headline,
    # and PostgreSQL refuses NUL in text.
    if b"\x00" in data:
        raise DocumentError(path, "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(
            path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})", line
        ) from None
    controls = len(_CONTROLS.findall(text, 0, 8192))
    if controls > 0.01 * min(len(text), 8192) + 2:
        raise DocumentError(path, "binary file (control characters)")
    return text


def fingerprint(doc: Document) -> str:
    """Identity of a story: its body's words, so syndicated copies on sister sites (same
    article, another tagline, maybe other related headlines) count as one story."""
    return _fingerprint(words(" ".join(shape.without_subheadings(doc.body))))


def _fingerprint(body_words: list[str]) -> str:
    return hashlib.sha256(" ".join(body_words).encode("utf-8")).hexdigest()


__all__ = ["decode", "fingerprint", "parse_document", "parse_with_fingerprint"]
