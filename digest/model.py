"""The values that flow through the pipeline: documents in, digests out.

Plain frozen dataclasses, so every stage can be tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

TitleSource = Literal["document", "headline", "sentence"]


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

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "title": self.title,
            "title_source": self.title_source,
            "source": self.source,
            "section_label": self.section_label,
            "body": list(self.body),
            "related_links": list(self.related_links),
            "headline_groups": [list(g) for g in self.headline_groups],
        }

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
                        }
                        for st in s.stories
                    ],
                    "headlines": list(s.headlines),
                }
                for s in self.sections
            ],
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
                        StoryItem(st["title"], st["summary"], st.get("source"), st.get("id", ""))
                        for st in s["stories"]
                    ),
                    headlines=tuple(s["headlines"]),
                )
                for s in data["sections"]
            ),
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
