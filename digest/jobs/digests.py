"""A day's digest: compose it, preview it, and show it to editors and in the archive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import edits
from ..compose import compose
from ..config import Config
from ..deliver.message import MessageTemplate, Recipient, fill_tokens
from ..deliver.outgoing import Outgoing
from ..errors import ComposeError, NotFoundError
from ..ingest.lines import subheading
from ..model import Digest, Section, StoryItem, story_path
from ..store import SendCounts, Store
from ..store.digests import DigestInfo, Published
from ..store.search import clean_query
from ..store.stories import story_keys
from ..text import match_key
from . import keywords


def compose_day(store: Store, config: Config, date: str) -> Digest:
    """Compose the day's digest from its stored stories, apply the editors' overrides, and
    store it (replacing an older one, unless sending has begun: then subscribers would get
    different digests for one day). An approval given to the older digest is withdrawn: what
    goes out must be what was approved (a hold stays)."""
    if store.find_send(date) is not None:
        raise ComposeError(f"the digest for {date} is already being sent; it cannot change now")
    stories = store.stories_for(date)
    learned = keywords.config_with_learned(store, config)  # keywords added from the desk
    base = compose(date, [doc for _, doc in stories], learned, [i for i, _ in stories])
    earlier = earlier_links(store, base)  # read before the write transaction begins
    return store.save_composed(
        link_headlines(base, earlier),
        lambda b, ov: link_headlines(edits.apply(b, ov, config), earlier),
    )


def with_urls(digest: Digest, base_url: str) -> dict[str, Any]:
    """The digest's JSON with each story's archive page as `url` (None: it has none)."""
    data = digest.to_json()
    base = base_url.rstrip("/")
    for section, shown in zip(data["sections"], digest.sections, strict=True):
        for story, item in zip(section["stories"], shown.stories, strict=True):
            path = story_path(digest.date, item)
            story["url"] = None if path is None else base + path
    return data


# ---- headline links -------------------------------------------------------------------------


def _paths(digest: Digest) -> dict[str, str]:
    """Story id -> the story's archive path, for the stories `digest` shows."""
    return {
        st.id: path
        for s in digest.sections
        for st in s.stories
        if (path := story_path(digest.date, st)) is not None
    }


def _headline_keys(digest: Digest) -> set[str]:
    return {k for s in digest.sections for h in s.headlines if (k := match_key(h))}


def earlier_links(store: Store, digest: Digest) -> dict[str, str]:
    """The digest's related headlines that are stories of an earlier published day, as the
    archive shows that day (the newest such day wins): match_key(headline) -> story path."""
    by_hash = {story_keys((), key, "")[1]: key for key in _headline_keys(digest)}
    links: dict[str, str] = {}
    copies: dict[str, dict[str, str]] = {}
    for title_key, date, story_id in store.published_by_title(by_hash, digest.date):
        key = by_hash[title_key]
        if key in links:
            continue
        if date not in copies:
            copies[date] = _paths(store.archive_copy(date)[0])
        if (path := copies[date].get(str(story_id))) is not None:
            links[key] = path
    return links


def link_headlines(digest: Digest, earlier: dict[str, str]) -> Digest:
    """`digest` with headline_links for its related headlines that are stories: of the day
    itself (a story the digest shows under that title), else of an earlier day (`earlier`)."""
    same = {
        match_key(st.title): path
        for s in digest.sections
        for st in s.stories
        if (path := story_path(digest.date, st)) is not None
    }
    found = {k: same.get(k) or earlier.get(k) for k in _headline_keys(digest)}
    return replace(digest, headline_links={k: v for k, v in sorted(found.items()) if v})


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    eml: Path


PREVIEW_RECIPIENT = Recipient(0, "reader@example.com", "Preview Reader", "preview", "preview")


def preview(
    store: Store, config: Config, date: str, sections: tuple[str, ...] | None = None
) -> PreviewFiles:
    """Write the day's digest as HTML, text and the full .eml under outbox/<date>/, exactly as
    a subscriber with `sections` (None: all) would get it, with placeholder link tokens."""
    outgoing = Outgoing(config)
    template = outgoing.variants(store.get_digest(date)).get(sections)
    if template is None:
        raise NotFoundError(f"the digest for {date} has none of the sections {sections}")
    r = PREVIEW_RECIPIENT

    folder = config.outbox / date
    folder.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(folder / "digest.html", folder / "digest.txt", folder / "digest.eml")
    tokens = (r.unsubscribe_token, r.preferences_token)
    files.html.write_text(fill_tokens(template.html, *tokens), encoding="utf-8")
    files.text.write_text(fill_tokens(template.text, *tokens), encoding="utf-8")
    files.eml.write_bytes(outgoing.sign(template.build(r)))
    return files


# ---- the editor's view ----------------------------------------------------------------------


def _is_day(date: str) -> bool:
    try:
        return dt.date.fromisoformat(date).isoformat() == date
    except ValueError:
        return False


def overview(store: Store) -> tuple[list[DigestInfo], list[tuple[str, int]]]:
    """Every stored digest with its send counts, and the days that have stories but no digest
    yet (with their story counts)."""
    digests = store.digest_infos()
    composed = {d.date for d in digests}
    waiting = [(d, n) for d, n in store.story_days() if d not in composed and _is_day(d)]
    return digests, waiting


@dataclass(frozen=True)
class DayView:
    """One day as the editor's page shows it. `digest` is None when the day has stories
    but has not been composed; `template` is None when `sections` leave nothing to send."""

    date: str
    digest: Digest | None
    template: MessageTemplate | None
    counts: SendCounts
    sending: bool
    approval: str  # pending, approved or held
    version: str | None = None  # what an approval from this view names (digest_version)


def day_view(
    store: Store, config: Config, date: str, sections: tuple[str, ...] | None = None
) -> DayView:
    """NotFoundError when the day has neither a digest nor stories."""
    send_id = store.find_send(date)
    counts = store.counts(send_id)
    day_state = store.approval(date, config.approval_required)
    if not store.has_digest(date):
        if not any(d == date for d, _ in store.story_days()):
            raise NotFoundError(f"There are no stories for {date}.")
        return DayView(date, None, None, counts, False, day_state)
    digest = store.get_digest(date)
    template = Outgoing(config).variants(digest).get(sections)
    version = store.digest_version(date)
    return DayView(date, digest, template, counts, send_id is not None, day_state, version)


def variant(
    store: Store, config: Config, date: str, sections: tuple[str, ...] | None
) -> MessageTemplate | None:
    """The day's email as a subscriber with `sections` gets it (None: they get none)."""
    return Outgoing(config).variants(store.get_digest(date)).get(sections)


# ---- the archive ----------------------------------------------------------------------------


def published(store: Store, limit: int | None = None) -> list[Published]:
    """Digests whose send has begun, newest first: never an unsent draft."""
    return store.published(limit)


def feed_entries(store: Store, limit: int) -> list[tuple[Published, Digest, dt.datetime | None]]:
    """The newest published digests, as the archive shows them, and when they were last
    corrected (None: never)."""
    return [(p, *store.archive_copy(p.date)) for p in store.published(limit)]


@dataclass(frozen=True)
class ArchiveDay:
    """A day as the archive shows it; `draft`: not sent yet, shown to a signed-in editor."""

    digest: Digest
    corrected: dt.datetime | None
    draft: bool
    previous: str | None  # the published days around it
    next: str | None


def archive_day(store: Store, date: str, editor: bool = False) -> ArchiveDay:
    """The published day (or for an `editor` the day's draft, as subscribers would get it);
    NotFoundError for a day with no digest, or with an unsent one and not an editor."""
    draft = not store.is_published(date)
    if draft and not (editor and store.has_digest(date)):
        raise NotFoundError(f"There is no published digest for {date}.")
    digest, corrected = (store.get_digest(date), None) if draft else store.archive_copy(date)
    return ArchiveDay(digest, corrected, draft, *store.published_neighbours(date))


@dataclass(frozen=True)
class Block:
    """A piece of a story's body: a paragraph ("p") or an agency subheading ("h2")."""

    kind: str
    text: str


@dataclass(frozen=True)
class StoryPage:
    day: ArchiveDay
    story: StoryItem  # as the day's digest shows it (editors may have retitled it)
    section: Section
    path: str
    body: tuple[Block, ...]
    related_links: tuple[str, ...]


def body_blocks(body: Iterable[str]) -> tuple[Block, ...]:
    """The body's paragraphs, its agency subheadings ("-- Orbit --") as headings."""
    return tuple(
        Block("h2", p.strip("-–— ")) if subheading(p) else Block("p", p) for p in body if p
    )


def story_page(store: Store, date: str, story_id: str, editor: bool = False) -> StoryPage:
    """A story of the day's archived digest (or draft, for an `editor`) with its full text;
    NotFoundError when the day's digest does not show it (dropped, or another day's)."""
    day = archive_day(store, date, editor)
    for section in day.digest.sections:
        for story in section.stories:
            if story.id and story.id == story_id:
                doc = store.story(int(story_id))
                path = story_path(date, story)
                if doc is None or path is None:
                    break
                return StoryPage(
                    day, story, section, path, body_blocks(doc.body), doc.related_links
                )
    raise NotFoundError(f"There is no story {story_id} in the digest for {date}.")


# ---- archive search -------------------------------------------------------------------------

SEARCH_RESULTS = 50
QUERY_CHARS = 200


@dataclass(frozen=True)
class SearchResult:
    date: str
    story: StoryItem  # as its day's archive shows it
    path: str


def search(store: Store, query: str) -> list[SearchResult]:
    """Stories of published days whose title or body matches `query` (its first QUERY_CHARS
    characters), best first, at most SEARCH_RESULTS; only stories their day's archive shows."""
    hits = store.search_stories(clean_query(query, QUERY_CHARS), SEARCH_RESULTS * 2)
    days: dict[str, dict[str, StoryItem]] = {}
    results: list[SearchResult] = []
    for hit in hits:
        if hit.date not in days:
            digest = store.archive_copy(hit.date)[0]
            days[hit.date] = {st.id: st for s in digest.sections for st in s.stories if st.id}
        story = days[hit.date].get(str(hit.id))
        path = None if story is None else story_path(hit.date, story)
        if story is not None and path is not None:
            results.append(SearchResult(hit.date, story, path))
        if len(results) == SEARCH_RESULTS:
            break
    return results


__all__ = [
    "ArchiveDay",
    "Block",
    "DayView",
    "PreviewFiles",
    "SearchResult",
    "StoryPage",
    "archive_day",
    "body_blocks",
    "compose_day",
    "day_view",
    "earlier_links",
    "feed_entries",
    "link_headlines",
    "overview",
    "preview",
    "published",
    "search",
    "story_page",
    "variant",
    "with_urls",
]
