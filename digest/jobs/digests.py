"""A day's digest: compose it, preview it, and show it to editors and in the archive."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .. import edits
from ..compose import compose
from ..config import Config
from ..deliver.message import MessageTemplate, Recipient, fill_tokens
from ..deliver.outgoing import Outgoing
from ..errors import ComposeError, NotFoundError
from ..model import Digest
from ..store import SendCounts, Store
from ..store.digests import DigestInfo, Published
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
    return store.save_composed(base, lambda b, ov: edits.apply(b, ov, config))


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


def feed_entries(store: Store, limit: int) -> list[tuple[Published, Digest]]:
    """The newest published digests, as the archive shows them (corrected, if they were)."""
    return [(p, store.archive_copy(p.date)[0]) for p in store.published(limit)]


def archived(store: Store, date: str) -> tuple[Digest, dt.datetime | None]:
    """A published day's digest as the archive shows it, and when an edit made after its
    send began last corrected it (None: never); NotFoundError for a draft or a day with none."""
    if not store.is_published(date):
        raise NotFoundError(f"There is no published digest for {date}.")
    return store.archive_copy(date)


__all__ = [
    "DayView",
    "PreviewFiles",
    "archived",
    "compose_day",
    "day_view",
    "feed_entries",
    "overview",
    "preview",
    "published",
    "variant",
]
