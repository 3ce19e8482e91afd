"""Parse story documents (scraped article pages) into Document values. Pure: text in,
Document out; reading files and the worker pool are files.py's.

Real pages come in several layouts (see the README); this module strips what belongs to the
page rather than the article (newsletter lines, taglines, bylines, datelines, captions, image
leftovers) and splits off the "Related Links" tail into hints and headline groups.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import DocumentError
from ..model import Document
from ..text import STEMS, clean_spaces, first_sentence, match_key, words, words_per_line

# ---- line classes -------------------------------------------------------------------------

_DATE_PREFIX = re.compile(r"^\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)\b[ \t]*(.*)$", re.IGNORECASE)
_NEWSLETTER = re.compile(
    r"^\|?\s*subscribe\s+(?:free\s+)?to\s+our\s+(?:free\s+)?(?:daily\s+)?newsletters?\b",
    re.IGNORECASE,
)
_TAGLINE = re.compile(r"^\.\s+(.+?)\s+\.$")
_RELATED = re.compile(r"^related\s+links:?$", re.IGNORECASE)
_HINT = re.compile(
    r"^learn\s+(?:more\s+)?about\s+.+\s+at\s+([\w.-]+\.[a-z]{2,})\.?$", re.IGNORECASE
)
_BYLINE = re.compile(r"^by\s+\S.{0,100}$", re.IGNORECASE)
_BYLINE_SITE = re.compile(r"\bfor\s+([\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info))\b", re.IGNORECASE)
_IMAGE_MD = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_IMAGE_ROW = re.compile(r"^(?:\s*!\[[^\]]*\]\([^)]*\)\s*\|?)+\s*$")
_CAPTION = re.compile(r"^(?:photo\s+|image\s+)?caption\s*:", re.IGNORECASE)
_ILLUSTRATION = re.compile(
    r"^(?:an?\s+)?(?:file\s+|stock\s+|archive\s+)?(?:illustration|image|photo|file image)"
    r"(?:\s+only)?(?:\s+courtesy\b.*)?\.?$",
    re.IGNORECASE,
)
_JUNK = re.compile(
    r"^(?:\.|\||tweet|share|email this article|comment on this article|advertisement|"
    r"free newsletters?|print|comments?|facebook|twitter|linkedin|"
    r"\|?\s*subscribe free to our daily newsletters|thanks for being there;?)$",
    re.IGNORECASE,
)

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        1,
    )
    for m in names
}
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_MDY = rf"(?P<mon>{_MONTH})\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})"
_DMY = rf"(?P<day2>\d{{1,2}})\s+(?P<mon2>{_MONTH})\s+(?P<year2>\d{{4}})"
# "Sydney, Australia (SPX) Jul 29, 2011" or "PARIS, Jan 29 (AFP) Jan 29, 2007"
_DATELINE = re.compile(
    rf"^(?P<place>[^()\n]{{0,80}}?)\s*\((?P<agency>[A-Za-z][\w .&-]{{0,20}})\)\s*"
    rf"(?:{_MDY}|{_DMY})\s*(?:[-–—:]\s*)?(?P<rest>.*)$"
)
# " image AFP/CCTV Sydney - December 1, 1999 - Technically, ..."
_INLINE_DATELINE = re.compile(
    rf"^(?P<prefix>[^\n]{{0,120}}?)\s+[-–—]+\s+(?:{_MDY}|{_DMY})\s+[-–—]+\s+(?P<rest>.+)$"
)
# Newsletter lines, taglines and page furniture, in one pattern: it runs on every line.
_BOILERPLATE = re.compile(
    "|".join(f"(?:{p.pattern})" for p in (_NEWSLETTER, _TAGLINE, _JUNK)), re.IGNORECASE
)
_FILENAME_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")  # controls no text file has

# Known taglines of the sister sites, for pages that name no site elsewhere.
_TAGLINE_SITES = {
    "24/7 space news": "SpaceDaily.com",
    "space industry and business news": "SpaceMart.com",
    "military space news, nuclear weapons, missile defense": "SpaceWar.com",
    "earth science news": "TerraDaily.com",
}
_SITE_IN_TEXT = re.compile(r"\b([A-Z][\w-]*\.(?:com|net|org))\b")

MAX_TITLE_CHARS = 100


@dataclass
class _Lines:
    """The document split into head, body and tail, with the date if the text carried one."""

    date: str | None
    head: list[str]
    body: list[str]
    tail: list[str]


def _normalise(text: str) -> str:
    # U+FFFD stands where a curly quote or apostrophe failed to decode upstream.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffd", "'")
    return text.replace("\u00a0", " ").replace("\u200b", "").replace("\t", " ")


def _is_tail_start(line: str, after_text: bool) -> bool:
    """Related Links and hint lines always open the tail; a "|" row only after some text,
    since page headers can carry stray pipes too."""
    s = line.strip()
    return bool(_RELATED.match(s) or _HINT.match(s) or (after_text and s.startswith("|")))


def _split(lines: list[str]) -> _Lines:
    """Find the date prefix and the start of the Related Links tail."""
    date: str | None = None
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None:
        m = _DATE_PREFIX.match(lines[first])
        if m:
            date = m.group(1)
            lines = [*lines[:first], m.group(2), *lines[first + 1 :]]
    # The tail starts at the first Related Links / hint / "|" line after some body text.
    tail_at = len(lines)
    seen_text = False
    for i, ln in enumerate(lines):
        if _is_tail_start(ln, seen_text):
            tail_at = i
            break
        if ln.strip() and not _is_boilerplate(ln.strip()):
            seen_text = True
    return _Lines(date, [], lines[:tail_at], lines[tail_at:])


def _is_boilerplate(s: str) -> bool:
    return bool(_BOILERPLATE.match(s))


def _parse_tail(tail: list[str]) -> tuple[list[str], list[list[str]]]:
    hints: list[str] = []
    groups: list[list[str]] = [[]]
    for raw in tail:
        s = clean_spaces(raw)
        if not s or _RELATED.match(s):
            continue
        if _HINT.match(s):
            hints.append(s)
        elif s.startswith("|") or _NEWSLETTER.match(s) or _JUNK.match(s):
            groups.append([])
        elif len(s) <= 250:  # a headline; longer lines are page furniture, not headlines
            groups[-1].append(s)
    return hints, [g for g in groups if g]


def _is_caps_label(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return (
        len(letters) >= 2
        and all(c.isupper() for c in letters)
        and len(s) <= 60
        and not s.endswith((".", "!", "?"))
    )


def _date_from(m: re.Match[str]) -> str | None:
    mon = m.group("mon") or m.group("mon2")
    day = m.group("day") or m.group("day2")
    year = m.group("year") or m.group("year2")
    month = _MONTHS.get(mon.rstrip(".").lower()[:3] if mon.lower()[:4] != "sept" else "sep")
    if month is None or not 1 <= int(day) <= 31:
        return None
    return f"{int(year):04d}-{month:02d}-{int(day):02d}"


@dataclass
class _Head:
    title: str | None = None
    label: str | None = None
    byline: str | None = None
    tagline: str | None = None
    date: str | None = None


def _take_head(body: list[str]) -> tuple[_Head, list[str]]:
    """Strip the page header of older layouts: newsletter, tagline, label, title, byline,
    dateline. Returns what it found and the remaining body lines."""
    head = _Head()
    i = 0
    n = len(body)

    def skip_furniture() -> None:
        nonlocal i
        while i < n:
            s = body[i].strip()
            if not s or _JUNK.match(s) or _NEWSLETTER.match(s) or s.lower().startswith("via your"):
                i += 1
            elif tagline := _TAGLINE.match(s):
                head.tagline = tagline.group(1)
                i += 1
            else:
                return

    skip_furniture()
    start = i
    # A title line is followed (after blanks) by a byline: that marks the older layouts.
    candidates: list[int] = []
    j = i
    while j < n and len(candidates) < 4:
        if body[j].strip():
            candidates.append(j)
        j += 1
    byline_at = next(
        (k for k, idx in enumerate(candidates) if _BYLINE.match(body[idx].strip())), None
    )
    had_furniture = start > 0
    if byline_at is None and not had_furniture:
        return head, body
    if byline_at is not None and 1 <= byline_at <= 2:
        if byline_at == 2:
            if not _is_caps_label(body[candidates[0]].strip()):
                return head, body
            head.label = clean_spaces(body[candidates[0]])
        head.title = clean_spaces(body[candidates[byline_at - 1]])
        head.byline = clean_spaces(body[candidates[byline_at]])
        i = candidates[byline_at] + 1
    elif had_furniture and candidates:
        # Furniture but no byline: label? title, then the body (or a dateline).
        k = 0
        if len(candidates) > 1 and _is_caps_label(body[candidates[0]].strip()):
            head.label = clean_spaces(body[candidates[0]])
            k = 1
        title = clean_spaces(body[candidates[k]])
        if len(title) <= MAX_TITLE_CHARS * 2 and not _DATELINE.match(title):
            head.title = title
            i = candidates[k] + 1
    # A dateline on a line of its own.
    while i < n and not body[i].strip():
        i += 1
    if i < n:
        s = clean_spaces(body[i])
        m = _DATELINE.match(s)
        if m and not m.group("rest"):
            head.date = _date_from(m)
            i += 1
    return head, body[i:]


def _strip_inline_dateline(first: str) -> tuple[str, str | None]:
    """Remove a dateline (and a glued image credit) from the start of the first paragraph."""
    m = _DATELINE.match(first)
    if m and m.group("rest") and len(first) - len(m.group("rest")) <= 120:
        return m.group("rest").strip(), _date_from(m)
    m = _INLINE_DATELINE.match(first)
    if m and len(m.group("prefix").split()) <= 10:
        return m.group("rest").strip(), _date_from(m)
    return first, None


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated blocks when the text has them, else one paragraph per line."""
    stripped = [ln.strip() for ln in lines]
    while stripped and not stripped[0]:
        stripped.pop(0)
    while stripped and not stripped[-1]:
        stripped.pop()
    blocky = "" in stripped
    paras: list[str] = []
    block: list[str] = []
    for s in stripped:
        keep = _keep_line(s)
        if blocky:
            if not s:
                if block:
                    paras.append(" ".join(block))
                    block = []
            elif keep:
                block.append(keep)
        elif keep:
            paras.append(keep)
    if block:
        paras.append(" ".join(block))
    return [p for p in (clean_spaces(p) for p in paras) if p and not _drop_paragraph(p)]


def _keep_line(s: str) -> str:
    """The line with image leftovers removed; empty when the whole line is page furniture."""
    if not s or _IMAGE_ROW.match(s) or _is_boilerplate(s) or _ILLUSTRATION.match(s):
        return ""
    s = _IMAGE_MD.sub("", s).strip()
    if s.startswith("|") or s.endswith("|"):
        s = s.strip("| ").strip()
    return s


def _drop_paragraph(p: str) -> bool:
    return bool(_CAPTION.match(p) or _ILLUSTRATION.match(p) or _is_boilerplate(p))


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


def _source(hints: list[str], head: _Head, filename: str) -> str | None:
    for hint in hints:
        m = _HINT.match(hint)
        if m:
            return m.group(1)
    if head.byline:
        m = _BYLINE_SITE.search(head.byline)
        if m:
            return m.group(1)
    if head.tagline:
        site = _TAGLINE_SITES.get(head.tagline.strip().lower())
        if site:
            return site
        m = _SITE_IN_TEXT.search(head.tagline)
        if m:
            return m.group(1)
    return None


def parse_document(text: str, path: str = "<text>", default_date: str | None = None) -> Document:
    """Parse one document's text. Raises DocumentError when there is no body or no date."""
    return parse_with_fingerprint(text, path, default_date)[0]


def parse_with_fingerprint(text: str, path: str, default_date: str | None) -> tuple[Document, str]:
    """The document and its fingerprint, from one pass over the body's words."""
    lines = _normalise(text).split("\n")
    parts = _split(lines)
    hints, groups = _parse_tail(parts.tail)
    head, body_lines = (_Head(), parts.body) if parts.date else _take_head(parts.body)
    body = _paragraphs(body_lines)
    inline_date = None
    if body:
        body[0], inline_date = _strip_inline_dateline(body[0])
        if not body[0]:
            body.pop(0)
    if not body:
        raise DocumentError(path, "no body text")
    m = _FILENAME_DATE.search(Path(path).name)
    date = parts.date or head.date or inline_date or (m.group(1) if m else None) or default_date
    if date is None:
        raise DocumentError(path, "no date (no 'date YYYY-MM-DD' line, dateline or dated name)")

    heads = [h for g in groups for h in g]
    words_of = dict(zip(heads, words_per_line(heads), strict=True))  # each tokenised once
    body_words = words_per_line(body)
    if head.title:
        title, title_source = head.title, "document"
    else:
        best = _best_headline(body_words, groups, words_of)
        if best:
            title, title_source = best, "headline"
        else:
            title, title_source = _sentence_title(body), "sentence"
    own = match_key(title)
    groups = [[h for h in g if " ".join(words_of[h]) != own] for g in groups]
    doc = Document(
        date=date,
        title=title,
        title_source=title_source,  # type: ignore[arg-type]
        source=_source(hints, head, path),
        section_label=head.label,
        body=tuple(body),
        related_links=tuple(hints),
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
    return _fingerprint(words(" ".join(doc.body)))


def _fingerprint(body_words: list[str]) -> str:
    return hashlib.sha256(" ".join(body_words).encode("utf-8")).hexdigest()


__all__ = ["decode", "fingerprint", "parse_document", "parse_with_fingerprint"]
