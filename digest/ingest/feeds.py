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
from collections.abc import Iterable
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


def _day(stamp: dt.datetime, zone: ZoneInfo) -> str:
    """The day a moment falls on where the newsletter is made (a naive time counts as UTC)."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(zone).date().isoformat()


def _struct_day(value: time.struct_time | None, zone: ZoneInfo) -> str | None:
    if value is None:
        return None
    return _day(dt.datetime(*value[:6], tzinfo=dt.UTC), zone)


def _iso_day(value: object, zone: ZoneInfo) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return _day(dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")), zone)
    except ValueError:
        return None


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
        # Only a web address: a feed's link reaches an href in every reader's email.
        url=url if url and url.startswith(("https://", "http://")) and len(url) <= 2000 else None,
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
    items: list[Item] = []
    refused: list[DocumentError] = []
    for i, entry in enumerate(feed.entries, 1):
        html = ""
        if entry.get("content"):
            html = "\n".join(str(c.get("value", "")) for c in entry.content)
        html = html or str(entry.get("summary", ""))
        link = str(entry.get("link") or "") or None
        day = _struct_day(entry.get("published_parsed") or entry.get("updated_parsed"), zone)
        tags = [str(t.get("term") or t.get("label") or "") for t in entry.get("tags", [])]
        try:
            doc = _story(
                f"{where}: item {i}", entry.get("title"), day, paragraphs(html), source, link, tags
            )
        except DocumentError as exc:
            refused.append(exc)
            continue
        items.append(Item(str(entry.get("id") or link or doc.title), doc))
    kind = "atom" if version.startswith("atom") else "rss"
    return Parsed(kind, tuple(items), tuple(refused))


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
    items: list[Item] = []
    refused: list[DocumentError] = []
    for i, entry in enumerate(entries, 1):
        here = f"{where}: item {i}"
        if not isinstance(entry, dict):
            refused.append(DocumentError(here, "not an object"))
            continue
        html = str(entry.get("content_html") or "")
        body = paragraphs(html) if html else []
        if not body:
            text = str(entry.get("content_text") or entry.get("summary") or "")
            body = [p for p in (clean_spaces(line) for line in text.splitlines()) if p]
        url = entry.get("url") or entry.get("external_url")
        day = _iso_day(entry.get("date_published") or entry.get("date_modified"), zone)
        tags = [str(t) for t in entry.get("tags") or [] if isinstance(t, str)]
        title = entry.get("title")
        try:
            doc = _story(
                here,
                title if isinstance(title, str) else None,
                day,
                body,
                source,
                str(url) if url else None,
                tags,
            )
        except DocumentError as exc:
            refused.append(exc)
            continue
        items.append(Item(str(entry.get("id") or url or doc.title), doc))
    return Parsed("json", tuple(items), tuple(refused))


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
    """Whether a source is a web page rather than a feed: by its name, its declared type,
    else its first bytes."""
    if where.lower().endswith(PAGE_SUFFIXES) or "html" in content_type.lower():
        return True
    head = data.lstrip()[:200].lower()
    return head.startswith((b"<!doctype html", b"<html"))


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
    if kind == "page" or (kind is None and is_page(where, data, content_type)):
        return Parsed("page", (parse_page(data, where, source, zone, url),), ())
    return parse_feed(data, where, source, zone)


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
