"""The archive's Atom feed (RFC 4287). Pure: published digests in, XML bytes out.

Built with ElementTree rather than a template, so every title and summary is escaped by the
XML writer and the feed is well-formed whatever the stories contain.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import escape

from ..model import Digest
from ..store.digests import Published

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _content(digest: Digest) -> str:
    """The entry's body as an HTML string (the XML writer escapes it once more)."""
    parts: list[str] = []
    for section in digest.sections:
        parts.append(f"<h2>{escape(section.name)}</h2>")
        for story in section.stories:
            parts.append(f"<h3>{escape(story.title)}</h3><p>{escape(story.summary)}</p>")
        if section.headlines:
            items = "".join(f"<li>{escape(h)}</li>" for h in section.headlines)
            parts.append(f"<ul>{items}</ul>")
    return "".join(parts)


def atom_feed(name: str, base_url: str, entries: Sequence[tuple[Published, Digest]]) -> bytes:
    """The feed for `entries` (newest first), linking to `base_url`/archive/<date>."""
    ET.register_namespace("", ATOM)
    base = base_url.rstrip("/")
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "title", name)
    _sub(feed, "id", f"{base}/archive/")
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/archive/feed.xml")
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base}/archive/")
    author = _sub(feed, "author")
    _sub(author, "name", name)
    newest = max((p.started for p, _ in entries), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    _sub(feed, "updated", _stamp(newest))
    for published, digest in entries:
        url = f"{base}/archive/{published.date}"
        entry = _sub(feed, "entry")
        _sub(entry, "title", published.subject)
        _sub(entry, "id", url)
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        _sub(entry, "updated", _stamp(published.started))
        _sub(entry, "published", _stamp(published.started))
        _sub(entry, "summary", published.preheader)
        _sub(entry, "content", _content(digest), type="html")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
