"""The archive's Atom feed (RFC 4287). Pure: published digests in, XML bytes out.

Built with ElementTree rather than a template, so every title and summary is escaped by the
XML writer and the feed is well-formed whatever the stories contain.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import escape

from ..model import Digest, story_path
from ..store.digests import Published

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_stamp(date: str) -> dt.datetime:
    """The digest's own date (midnight UTC), which dates its entry: not when the send
    happened to start (a day sent late, or again, is still that day's issue)."""
    return dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), dt.UTC)


def _updated(date: str, corrected: dt.datetime | None) -> dt.datetime:
    """When the entry last changed: its day, or a correction made after it."""
    day = day_stamp(date)
    return max(day, corrected) if corrected is not None else day


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _content(digest: Digest, base: str) -> str:
    """The entry's body as an HTML string (the XML writer escapes it once more); each story's
    title links to its archive page."""
    parts: list[str] = []
    for section in digest.sections:
        parts.append(f"<h2>{escape(section.name)}</h2>")
        for story in section.stories:
            title = escape(story.title)
            path = story_path(digest.date, story)
            if path is not None:
                title = f'<a href="{escape(base + path)}">{title}</a>'
            parts.append(f"<h3>{title}</h3><p>{escape(story.summary)}</p>")
        if section.headlines:
            items = "".join(f"<li>{escape(h)}</li>" for h in section.headlines)
            parts.append(f"<ul>{items}</ul>")
    return "".join(parts)


Entry = tuple[Published, Digest, dt.datetime | None]  # and when it was last corrected


def atom_feed(name: str, base_url: str, entries: Sequence[Entry]) -> bytes:
    """The feed for `entries` (newest first), linking to `base_url`/archive/<date>, each
    dated by its digest's date."""
    ET.register_namespace("", ATOM)
    base = base_url.rstrip("/")
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "title", name)
    _sub(feed, "id", f"{base}/archive/")
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/archive/feed.xml")
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base}/archive/")
    author = _sub(feed, "author")
    _sub(author, "name", name)
    newest = max(
        (_updated(p.date, corrected) for p, _, corrected in entries),
        default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    )
    _sub(feed, "updated", _stamp(newest))
    for published, digest, corrected in entries:
        url = f"{base}/archive/{published.date}"
        entry = _sub(feed, "entry")
        _sub(entry, "title", published.subject)
        _sub(entry, "id", url)
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        _sub(entry, "updated", _stamp(_updated(published.date, corrected)))
        _sub(entry, "published", _stamp(day_stamp(published.date)))
        _sub(entry, "summary", published.preheader)
        _sub(entry, "content", _content(digest, base), type="html")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
