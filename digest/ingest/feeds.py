"""Feeds and article pages as stories (issue #15). Pure: bytes in, Documents out.

RSS 0.9x/1.0/2.0 and Atom are read by feedparser; a JSON Feed is JSON, read with the standard
library against its published field names; a single article page goes through trafilatura,
which finds the title, date, author and body of a web page. HTML inside an item is read with
lxml, never with regular expressions. Each item that cannot be a story (no title, no date, no
text) is one line of reason, and the others still come out.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import lxml.etree
import lxml.html

from ..errors import DocumentError
from ..model import Document
from ..text import clean_spaces

FEED_SUFFIXES = (".xml", ".rss", ".atom", ".json")
PAGE_SUFFIXES = (".html", ".htm")
# Elements whose text is a paragraph of its own.
_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dd", "dt")
_DROP = ("script", "style", "noscript", "iframe", "object", "embed", "form")
MAX_TITLE_CHARS = 300


@dataclass(frozen=True)
class Item:
    """One item of a feed (or one page) as a story, and what names it across fetches: its
    GUID, else its link."""

    key: str
    document: Document


@dataclass(frozen=True)
class Parsed:
    kind: str  # rss, atom, json or page
    items: tuple[Item, ...]
    refused: tuple[DocumentError, ...]  # each item left out, and why


def paragraphs(html: str) -> list[str]:
    """The text of an HTML fragment, a paragraph per block element (or per line, for
    text without any): white space made plain, scripts and styles dropped."""
    if not html.strip():
        return []
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return [clean_spaces(html)] if html.strip() else []
    for bad in root.iter(*_DROP):
        bad.drop_tree()
    blocks = [
        el for el in root.iter(*_BLOCKS) if not any(a.tag in _BLOCKS for a in el.iterancestors())
    ]
    if not blocks:
        text = root.text_content()
        return [p for p in (clean_spaces(line) for line in text.splitlines()) if p]
    return [p for p in (clean_spaces(el.text_content()) for el in blocks) if p]


def _day(stamp: dt.datetime, zone: ZoneInfo) -> str | None:
    """The day a moment falls on where the newsletter is made (a naive time counts as UTC);
    None for a moment no calendar here holds (the year 1 or 9999 moved a zone away)."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    try:
        return stamp.astimezone(zone).date().isoformat()
    except (OverflowError, ValueError):
        return None


def _has_time(raw: object) -> bool:
    """Whether a written date carries a time of day: a date alone names its day as it is, in
    every zone (read as midnight UTC, it would fall on the day before west of Greenwich)."""
    return isinstance(raw, str) and ":" in raw


def _struct_day(value: time.struct_time | None, raw: object, zone: ZoneInfo) -> str | None:
    if value is None:
        return None
    try:
        stamp = dt.datetime(*value[:6], tzinfo=dt.UTC)
    except (ValueError, TypeError):
        return None
    return _day(stamp, zone) if _has_time(raw) else stamp.date().isoformat()


def _iso_day(value: object, zone: ZoneInfo) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return _day(stamp, zone) if _has_time(value) else stamp.date().isoformat()


# What an address that goes into an href and onto a line of the text part must not hold.
_UNSAFE_URL = frozenset(' "<>\\^`{|}')


def web_address(url: object) -> str | None:
    """`url` when it is a plain http(s) address (no white space, control characters or
    quotes: it reaches every reader's email as a link and as a line of text), else None."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    if len(url) > 2000 or any(ch in _UNSAFE_URL or ord(ch) < 33 or ord(ch) == 127 for ch in url):
        return None
    return url


def _story(
    where: str,
    title: str | None,
    day: str | None,
    body: list[str],
    source: str | None,
    url: str | None,
    categories: Iterable[str],
) -> Document:
    """A Document of an item; DocumentError naming `where` for what it lacks."""
    title = " ".join(paragraphs(title)) if title and "<" in title else clean_spaces(title or "")
    if not title:
        raise DocumentError(where, "no title")
    if day is None:
        raise DocumentError(where, f"{title[:60]!r}: no date")
    if body and body[0] == title:  # a page repeats its title as the article's heading
        body = body[1:]
    if not body:
        raise DocumentError(where, f"{title[:60]!r}: no text (neither content nor summary)")
    return Document(
        date=day,
        title=title[:MAX_TITLE_CHARS],
        title_source="document",
        source=source,
        section_label=None,
        body=tuple(body),
        url=web_address(url),
        categories=tuple(dict.fromkeys(c for c in (clean_spaces(c) for c in categories) if c)),
    )


def _feedparser_items(data: bytes, where: str, source: str | None, zone: ZoneInfo) -> Parsed:
    # Imported here: 40 ms that only a feed should cost.
    import feedparser  # type: ignore[import-untyped]

    feed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    version = str(feed.get("version") or "")
    if not version:
        reason = getattr(feed.get("bozo_exception"), "args", None) or ("not an RSS or Atom feed",)
        raise DocumentError(where, f"not a feed: {str(reason[0])[:120]}")
    source = source or clean_spaces(str(feed.feed.get("title") or "")) or None
    items, refused = _each(feed.entries, where, lambda e, here: _rss_item(e, here, source, zone))
    kind = "atom" if version.startswith("atom") else "rss"
    return Parsed(kind, tuple(items), tuple(refused))


def _rss_item(entry: Any, here: str, source: str | None, zone: ZoneInfo) -> Item:
    html = ""
    if entry.get("content"):
        html = "\n".join(str(c.get("value", "")) for c in entry.content)
    html = html or str(entry.get("summary", ""))
    link = str(entry.get("link") or "") or None
    # The first published time; an entry with only an updated one (Atom allows it) gets its
    # day from that, and keeps the day it was first stored under (see jobs/ingest.py).
    if entry.get("published_parsed"):
        day = _struct_day(entry.get("published_parsed"), entry.get("published"), zone)
    else:
        day = _struct_day(entry.get("updated_parsed"), entry.get("updated"), zone)
    tags = [str(t.get("term") or t.get("label") or "") for t in entry.get("tags", [])]
    doc = _story(here, entry.get("title"), day, paragraphs(html), source, link, tags)
    return Item(str(entry.get("id") or link or doc.title), doc)


def _each(
    entries: Iterable[Any], where: str, make: Callable[[Any, str], Item]
) -> tuple[list[Item], list[DocumentError]]:
    """Each entry as an item, or the one line of why it is not: an entry that trips the
    code (a number where text belongs, say) is refused alone, the others still come."""
    items: list[Item] = []
    refused: list[DocumentError] = []
    for i, entry in enumerate(entries, 1):
        here = f"{where}: item {i}"
        try:
            items.append(make(entry, here))
        except DocumentError as exc:
            refused.append(exc)
        except Exception as exc:  # odd input of any kind: refused, never a crash
            refused.append(DocumentError(here, f"cannot be read ({type(exc).__name__})"))
    return items, refused


def _json_feed_items(data: bytes, where: str, source: str | None, zone: ZoneInfo) -> Parsed:
    """A JSON Feed (jsonfeed.org, versions 1 and 1.1)."""
    try:
        feed: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError(where, f"not JSON: {exc}") from None
    if not isinstance(feed, dict) or "jsonfeed.org" not in str(feed.get("version", "")):
        raise DocumentError(where, "not a JSON Feed (no jsonfeed.org version)")
    entries = feed.get("items")
    if not isinstance(entries, list):
        raise DocumentError(where, "a JSON Feed without an items list")
    source = source or clean_spaces(str(feed.get("title") or "")) or None
    items, refused = _each(entries, where, lambda e, here: _json_item(e, here, source, zone))
    return Parsed("json", tuple(items), tuple(refused))


def _json_item(entry: Any, here: str, source: str | None, zone: ZoneInfo) -> Item:
    if not isinstance(entry, dict):
        raise DocumentError(here, "not an object")
    html = str(entry.get("content_html") or "")
    body = paragraphs(html) if html else []
    if not body:
        text = str(entry.get("content_text") or entry.get("summary") or "")
        body = [p for p in (clean_spaces(line) for line in text.splitlines()) if p]
    url = entry.get("url") or entry.get("external_url")
    day = _iso_day(entry.get("date_published") or entry.get("date_modified"), zone)
    listed = entry.get("tags")
    tags = [t for t in listed if isinstance(t, str)] if isinstance(listed, list) else []
    title = entry.get("title")
    doc = _story(
        here, title if isinstance(title, str) else None, day, body, source, web_address(url), tags
    )
    return Item(str(entry.get("id") or url or doc.title), doc)


def parse_feed(data: bytes, where: str, source: str | None, zone: ZoneInfo) -> Parsed:
    """A feed's items as stories: RSS, Atom or JSON Feed, told apart by their content; their
    source is `source`, else the feed's own title. DocumentError when it is no feed at all."""
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return _json_feed_items(data, where, source, zone)
    return _feedparser_items(data, where, source, zone)


def parse_page(
    data: bytes, where: str, source: str | None, zone: ZoneInfo, url: str | None = None
) -> Item:
    """A single article page as a story: its title, date, author and body, as trafilatura
    finds them; its source is `source`, else the site's name. DocumentError when it is not
    an article page."""
    import trafilatura  # here: 110 ms that only a page should cost

    try:
        found = trafilatura.bare_extraction(
            data, url=url, with_metadata=True, include_comments=False, favor_precision=True
        )
    except (ValueError, TypeError, lxml.etree.LxmlError) as exc:
        raise DocumentError(where, f"not an HTML page: {exc}") from None
    if found is None:
        raise DocumentError(where, "no article found in the page")
    meta = found.as_dict() if hasattr(found, "as_dict") else dict(found)
    text = str(meta.get("text") or "")
    body = [p for p in (clean_spaces(line) for line in text.splitlines()) if p]
    day = _iso_day(meta.get("date"), zone)
    tags = [t for t in str(meta.get("categories") or "").split(",") if t.strip()]
    # The page's own canonical address, else the one it was fetched from.
    link = (str(meta.get("url")) if meta.get("url") else None) or url
    source = source or clean_spaces(str(meta.get("sitename") or "")) or None
    doc = _story(where, meta.get("title"), day, body, source, link, tags)
    return Item(link or where, doc)


def is_page(where: str, data: bytes, content_type: str = "") -> bool:
    """Whether a source is a web page rather than a feed: by its first bytes, else its name
    or declared type (servers often call a feed text/html)."""
    head = data.lstrip()[:300].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf:rdf", b"{")):
        return False
    return where.lower().endswith(PAGE_SUFFIXES) or "html" in content_type.lower()


def parse_source(
    data: bytes,
    where: str,
    source: str | None,
    zone: ZoneInfo,
    kind: str | None = None,
    url: str | None = None,
    content_type: str = "",
) -> Parsed:
    """A feed's items, or a page as one item, by `kind` (feed or page) or, without one, by
    what it looks like. DocumentError when it is neither."""
    try:
        if kind == "page" or (kind is None and is_page(where, data, content_type)):
            return Parsed("page", (parse_page(data, where, source, zone, url),), ())
        return parse_feed(data, where, source, zone)
    except DocumentError:
        raise
    except Exception as exc:  # a parser tripped on odd input: one line, never a crash
        raise DocumentError(where, f"cannot be read: {type(exc).__name__}: {exc}"[:200]) from None


__all__ = [
    "FEED_SUFFIXES",
    "PAGE_SUFFIXES",
    "Item",
    "Parsed",
    "is_page",
    "paragraphs",
    "parse_feed",
    "parse_page",
    "parse_source",
]
