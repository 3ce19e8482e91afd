"""Editors' overrides, applied to a composed digest. Pure: a digest and overrides in, the
edited digest out.

Composing makes the day's `base` digest from its stories; every edit an editor makes is kept
as an override of one field of one item, named by what composing again does not change: a
story by its id in the store (kept through corrections), a headline by its normalised text, a
section by its name, the day as a whole. The digest that goes out is the base with every
override applied, so the overrides survive composing again, late and corrected documents,
and restarts; an override whose item has gone (a story merged into another) does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .compose import finish
from .config import Config
from .model import Digest, Section, StoryItem
from .text import match_key

DAY = "day"
# What each kind of item can have overridden; "dropped" is "1" when it is, and "order" is a
# section's story ids in the editor's order, space-separated.
STORY_FIELDS = ("title", "summary", "section", "dropped")
HEADLINE_FIELDS = ("section", "dropped")
SECTION_FIELDS = ("order",)
DAY_FIELDS = ("subject", "preheader", "lead")


def story_target(story_id: str) -> str:
    return f"story:{story_id}"


def headline_target(text: str) -> str:
    return f"headline:{match_key(text)}"


def section_target(name: str) -> str:
    return f"section:{name}"


@dataclass(frozen=True)
class Overrides:
    """A day's overrides: (target, field) -> value."""

    values: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def get(self, target: str, name: str) -> str | None:
        return self.values.get((target, name)) or None


@dataclass(frozen=True)
class Placed:
    """A story or headline of the base digest, and where the overrides put it (`section` is
    None when it is dropped)."""

    base_section: str
    section: str | None
    story: StoryItem | None = None
    headline: str | None = None


def _story(item: StoryItem, ov: Overrides) -> StoryItem:
    target = story_target(item.id)
    return replace(
        item,
        title=ov.get(target, "title") or item.title,
        summary=ov.get(target, "summary") or item.summary,
    )


def placed(base: Digest, ov: Overrides, names: Sequence[str]) -> Iterator[Placed]:
    """Every story and headline of the base digest, edited, and the section it now goes in:
    one of `names`, else where composing put it. A story without an id (composed before
    ids) cannot be edited, and stays as it was."""
    for sec in base.sections:
        for item in sec.stories:
            if not item.id:
                yield Placed(sec.name, sec.name, story=item)
                continue
            target = story_target(item.id)
            moved = ov.get(target, "section")
            where = moved if moved in names else sec.name
            yield Placed(sec.name, None if ov.get(target, "dropped") else where, _story(item, ov))
        for text in sec.headlines:
            target = headline_target(text)
            moved = ov.get(target, "section")
            where = moved if moved in names else sec.name
            yield Placed(sec.name, None if ov.get(target, "dropped") else where, headline=text)


def apply(base: Digest, ov: Overrides, config: Config) -> Digest:
    """The base digest with the overrides applied.

    Sections stay in config order, except that a lead chosen by an editor takes its section
    to the top, itself first. Within a section, the stories an editor has put in order come
    first in that order, then the others as composed; what was moved in from another section
    comes after what composing put there.
    ComposeError when the edits leave no story at all.
    """
    names = [*config.section_names]
    names += [s.name for s in base.sections if s.name not in names]
    stories: dict[str, list[StoryItem]] = {n: [] for n in names}
    headlines: dict[str, list[str]] = {n: [] for n in names}
    # What stayed in its section first, then what was moved in.
    kept = sorted(placed(base, ov, names), key=lambda p: p.section != p.base_section)
    for p in kept:
        if p.section is None:
            continue
        if p.story is not None:
            stories[p.section].append(p.story)
        elif p.headline is not None:
            headlines[p.section].append(p.headline)
    for name, items in stories.items():
        order = (ov.get(section_target(name), "order") or "").split()
        rank = {story_id: i for i, story_id in enumerate(order)}
        items.sort(key=lambda st: rank.get(st.id, len(rank)))  # stable: the rest as composed
    lead = ov.get(DAY, "lead")
    for name in names:
        found = next((st for st in stories[name] if lead and st.id == lead), None)
        if found is not None:
            stories[name].remove(found)
            stories[name].insert(0, found)
            names.remove(name)
            names.insert(0, name)
            break
    sections = [Section(n, tuple(stories[n]), tuple(headlines[n])) for n in names]
    edited = finish(base.date, sections, config, ov.get(DAY, "subject"), ov.get(DAY, "preheader"))
    return replace(edited, headline_links=base.headline_links)


def find_story(digest: Digest, story_id: str) -> tuple[Section, int] | None:
    """The section holding the story, and its place there."""
    for sec in digest.sections:
        for i, st in enumerate(sec.stories):
            if st.id == story_id:
                return sec, i
    return None


def base_stories(base: Digest) -> dict[str, StoryItem]:
    """The base digest's stories that can be edited, by id."""
    return {st.id: st for s in base.sections for st in s.stories if st.id}


def base_headlines(base: Digest) -> dict[str, str]:
    """The base digest's headlines, by normalised text."""
    return {match_key(h): h for s in base.sections for h in s.headlines}


__all__ = [
    "DAY",
    "DAY_FIELDS",
    "HEADLINE_FIELDS",
    "SECTION_FIELDS",
    "STORY_FIELDS",
    "Overrides",
    "Placed",
    "apply",
    "base_headlines",
    "base_stories",
    "find_story",
    "headline_target",
    "placed",
    "section_target",
    "story_target",
]
