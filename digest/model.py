"""The values that flow through the pipeline: documents in, digests out.

Plain frozen dataclasses, so every stage can be tested without a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .text import fold

TitleSource = Literal["document", "headline", "sentence"]
SLUG_WORDS = 8


@dataclass(frozen=True)
class Document:
    """What ingest extracts from one story document."""

    date: str  # "YYYY-MM-DD", or "YYYY-MM" when the page only gives the month
    title: str
    title_source: TitleSource
    source: str | None
    section_label: str | None
    body: tuple[str, ...]
    related_links: tuple[str, ...] = ()
    headline_groups: tuple[tuple[str, ...], ...] = ()
    # From a feed or a web page: the original article's address, and the feed's categories.
    url: str | None = None
    categories: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "date": self.date,
            "title": self.title,
            "title_source": self.title_source,
            "source": self.source,
            "section_label": self.section_label,
            "body": list(self.body),
            "related_links": list(self.related_links),
            "headline_groups": [list(g) for g in self.headline_groups],
        }
        if self.url is not None or self.categories:
            found.update(url=self.url, categories=list(self.categories))
        return found

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        return cls(
            date=data["date"],
            title=data["title"],
            title_source=data["title_source"],
            source=data.get("source"),
            section_label=data.get("section_label"),
            body=tuple(data["body"]),
            related_links=tuple(data.get("related_links", ())),
            headline_groups=tuple(tuple(g) for g in data.get("headline_groups", ())),
            url=data.get("url"),
            categories=tuple(data.get("categories", ())),
        )


@dataclass(frozen=True)
class StoryItem:
    """A story as the digest shows it."""

    title: str
    summary: str
    source: str | None
    # The story's id in the store (its row's, kept through corrections): what editors' edits
    # name it by. Empty for a story that was never stored, or composed before ids.
    id: str = ""
    # The original article's address, for a story from a feed or a web page.
    original: str | None = None

    @property
    def slug(self) -> str:
        """The story's name in its archive page's address: its id, then the first words of
        its title ("17-japan-and-philippines-sign-pact-on-joint"). Only the id finds the
        story: an edited title changes the words, and the old address still leads to it.
        Empty for a story without an id (it has no page)."""
        if not self.id:
            return ""
        found = [w for w in re.split(r"[^a-z0-9]+", fold(self.title)) if w][:SLUG_WORDS]
        return "-".join([self.id, *found])


def story_path(date: str, story: StoryItem) -> str | None:
    """The story's archive page, under the site's base URL (None: it has none)."""
    return f"/archive/{date}/{story.slug}" if story.slug else None


@dataclass(frozen=True)
class Section:
    name: str
    stories: tuple[StoryItem, ...] = ()
    headlines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Digest:
    """One day's digest: sections in config order, empty ones already dropped."""

    date: str
    subject: str
    preheader: str
    sections: tuple[Section, ...] = field(default_factory=tuple)
    # Related headlines that are stories in the archive (that day or earlier): the headline's
    # match_key -> the story's path (story_path), for the email and the archive to link.
    headline_links: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "subject": self.subject,
            "preheader": self.preheader,
            "sections": [
                {
                    "name": s.name,
                    "stories": [
                        {
                            "id": st.id,
                            "title": st.title,
                            "summary": st.summary,
                            "source": st.source,
                            **({"original": st.original} if st.original else {}),
                        }
                        for st in s.stories
                    ],
                    "headlines": list(s.headlines),
                }
                for s in self.sections
            ],
            "headline_links": dict(self.headline_links),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Digest:
        return cls(
            date=data["date"],
            subject=data["subject"],
            preheader=data["preheader"],
            sections=tuple(
                Section(
                    name=s["name"],
                    stories=tuple(
                        StoryItem(
                            st["title"],
                            st["summary"],
                            st.get("source"),
                            st.get("id", ""),
                            st.get("original"),
                        )
                        for st in s["stories"]
                    ),
                    headlines=tuple(s["headlines"]),
                )
                for s in data["sections"]
            ),
            headline_links=dict(data.get("headline_links", {})),
        )

    def only(self, names: frozenset[str] | None) -> Digest:
        """The digest a subscriber who chose `names` receives (None means every section)."""
        if names is None:
            return self
        return replace(self, sections=tuple(s for s in self.sections if s.name in names))

    @property
    def story_count(self) -> int:
        return sum(len(s.stories) for s in self.sections)

    @property
    def headline_count(self) -> int:
        return sum(len(s.headlines) for s in self.sections)


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    sections: tuple[str, ...] | None  # None: every section
    status: str
    hard_bounces: int = 0
