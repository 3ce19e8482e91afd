"""Build one day's Digest from that day's documents. Pure: documents in, Digest out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .config import Config
from .errors import ComposeError
from .ingest.lines import without_subheadings
from .model import Digest, Document, Section, StoryItem
from .sections import CATEGORY_POINTS, LEAN_POINTS, Classifier
from .text import clean_spaces, ends_sentence, fold, long_date, match_key, sentences

PREHEADER_CHARS = 140


def summarize(body: Sequence[str], limit: int) -> str:
    """The first sentences of the body, at most `limit` characters, ending at a sentence end.

    When even the first sentence is longer than the limit (or the body is cut off mid-sentence),
    it is cut at a word boundary and marked with an ellipsis.
    """
    text = clean_spaces(" ".join(without_subheadings(body)[:3]))
    out = ""
    for sentence in sentences(text):
        candidate = f"{out} {sentence}".strip()
        if len(candidate) > limit or not ends_sentence(sentence):
            break
        out = candidate
    if out:
        return out
    cut = text[:limit].rsplit(" ", 1)[0] if len(text) > limit else text
    return cut.rstrip(" ,;:-–—") + "…"


def subject_line(config: Config, date: str, lead_title: str) -> str:
    return clean_spaces(f"{config.name}, {long_date(date)}: {lead_title}")


@dataclass(frozen=True)
class _Pointers:
    """What points a story to a section besides its words: its feed's categories (one that
    names a section, or is mapped to one in category_sections) and its source's lean."""

    categories: dict[str, str]  # folded category -> section
    leans: dict[str, tuple[str, ...]]  # source name -> sections

    def points(self, doc: Document) -> dict[str, int]:
        found: Counter[str] = Counter()
        for category in doc.categories:
            section = self.categories.get(fold(category).strip())
            if section:
                found[section] += CATEGORY_POINTS
        for section in self.leans.get(doc.source or "", ()):
            found[section] += LEAN_POINTS
        return dict(found)


def _pointers(config: Config) -> _Pointers:
    named = {fold(name): name for name in config.section_names[:-1]}  # not the catch-all
    named.update(
        (fold(category).strip(), section) for category, section in config.category_sections
    )
    return _Pointers(named, {s.name: s.sections for s in config.sources})


def compose(
    date: str, documents: Sequence[Document], config: Config, ids: Sequence[str] = ()
) -> Digest:
    """Group the day's stories and related headlines into sections, in config order.

    Each headline appears once; a headline that is one of the day's story titles is left out.
    `ids[i]` is `documents[i]`'s id in the store, which editors' edits name it by.
    """
    if not documents:
        raise ComposeError(f"no stories for {date}: ingest that day's documents first")
    classifier = Classifier.from_rules(config.sections, config.more_section)
    pointers = _pointers(config)
    stories: dict[str, list[StoryItem]] = {n: [] for n in config.section_names}
    seen: set[str] = set()
    # Longer stories first within a section: they tend to be the day's substantial pieces.
    named = list(zip(documents, [*ids, *[""] * (len(documents) - len(ids))], strict=True))
    ordered = sorted(
        named, key=lambda d: (-sum(len(p) for p in without_subheadings(d[0].body)), d[0].title)
    )
    for doc, story_id in ordered:
        key = match_key(doc.title)
        if key in seen:
            continue
        seen.add(key)
        hints = (*doc.related_links, *doc.categories)
        text = without_subheadings(doc.body)  # a subheading's words are no lede
        name = classifier.story(doc.title, text, hints, pointers.points(doc))
        summary = summarize(doc.body, config.summary_chars)
        stories[name].append(StoryItem(doc.title, summary, doc.source, story_id, doc.url))

    headlines: dict[str, list[str]] = {n: [] for n in config.section_names}
    for doc, _ in ordered:
        for group in doc.headline_groups:
            for h in group:
                key = match_key(h)
                if not key or key in seen:
                    continue
                seen.add(key)
                headlines[classifier.headline(h)].append(h)

    sections = tuple(
        Section(name, tuple(stories[name]), tuple(headlines[name]))
        for name in config.section_names
        if stories[name] or headlines[name]
    )
    return finish(date, sections, config)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def preheader_of(sections: Sequence[Section]) -> str:
    """The preheader of these sections: what is inside, then the stories after the lead
    (which the subject names), then related headlines while there is room, so a day with
    one story still says something. At most PREHEADER_CHARS characters. With no story,
    the first headline is the lead. The day's digest and each reader's (deliver/variants.py,
    from the reader's own sections) get theirs from here."""
    stories = [st.title for s in sections for st in s.stories]
    headlines = [h for s in sections for h in s.headlines]
    counts = [_count(len(stories), "story", "stories")] if stories else []
    counts += [_count(len(headlines), "headline", "headlines")] if headlines else []
    named = [*stories, *headlines][1:]  # the first is the lead, named by the subject
    text = ", ".join(counts)
    if named:
        text += ". Also: " + "; ".join(named)
    if len(text) > PREHEADER_CHARS:
        text = text[: PREHEADER_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ;,:") + "…"
    return text


def finish(
    date: str,
    sections: Sequence[Section],
    config: Config,
    subject: str | None = None,
    preheader: str | None = None,
) -> Digest:
    """The digest of these sections: empty ones dropped; the subject names the first story
    (the lead) and the preheader counts what is inside and names the rest (preheader_of),
    unless given."""
    sections = tuple(s for s in sections if s.stories or s.headlines)
    lead = next((s.stories[0] for s in sections if s.stories), None)
    if lead is None:
        raise ComposeError(f"no stories for {date}")
    if not subject:
        subject = subject_line(config, date, lead.title)
    if not preheader:
        preheader = preheader_of(sections)
    return Digest(
        date=date,
        subject=clean_spaces(subject),
        preheader=clean_spaces(preheader),
        sections=sections,
    )
