"""The editorial desk: an editor's edits of a day's digest, item by item (issue #13).

Each edit becomes overrides (digest/edits.py) and lines of the day's edit log, and the day's
digest is made again from its composition with every override, at once. Before the day's send
begins, an edit changes what subscribers get (and withdraws an approval: what goes out must be
what was approved); after, it corrects the archive's copy only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..config import Config
from ..edits import (
    DAY,
    Overrides,
    apply,
    base_headlines,
    base_stories,
    find_story,
    headline_target,
    placed,
    section_target,
    story_target,
)
from ..errors import ComposeError, EditError
from ..model import Digest
from ..sections import telling_words
from ..store import Store
from ..store.edits import Change, Edit
from ..text import clean_spaces, match_key
from . import keywords

TITLE_CHARS = 300
SUMMARY_CHARS = 2000
SUBJECT_CHARS = 200
PREHEADER_CHARS = 300


@dataclass(frozen=True)
class EditRequest:
    """What one edit asks. `story` (an id) or `headline` (its text) names the item; neither
    means the day. `drop` is True to drop, False to restore; `move` is -1 (up) or 1 (down).
    An empty title, summary, subject or preheader puts back what composing made."""

    story: str | None = None
    headline: str | None = None
    title: str | None = None
    summary: str | None = None
    section: str | None = None
    drop: bool | None = None
    lead: bool = False
    move: int = 0
    subject: str | None = None
    preheader: str | None = None


@dataclass(frozen=True)
class EditResult:
    changes: tuple[Change, ...]
    digest: Digest
    archive_only: bool  # the send had begun: the archive's copy was corrected


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text(value: str, what: str, limit: int) -> str:
    """The value with its white space made plain; EditError for a character no email header
    or page may carry (a control character: it would break the message, or a terminal)."""
    value = clean_spaces(value)
    bad = next((ch for ch in value if unicodedata.category(ch).startswith("C")), None)
    if bad is not None:
        raise EditError(f"the {what} holds a control character ({bad!r}); take it out")
    if len(value) > limit:
        raise EditError(f"the {what} is {len(value)} characters; at most {limit} are allowed")
    return value


def _section(config: Config, name: str) -> str:
    if name not in config.section_names:
        raise EditError(
            f"unknown section {name!r}; the sections are: {', '.join(config.section_names)}"
        )
    return name


class _Desk:
    """One edit's view of the day: its composition, its overrides, the digest they make."""

    def __init__(self, config: Config, date: str, base: Digest, ov: Overrides) -> None:
        self.config = config
        self.date = date
        self.base = base
        self.ov = ov
        self.now = apply(base, ov, config)

    @classmethod
    def of(cls, store: Store, config: Config, date: str) -> _Desk:
        return cls(config, date, store.base_digest(date), store.overrides(date))

    def changes(self, req: EditRequest) -> list[Change]:
        if req.story is not None:
            return self.story_changes(req, req.story)
        if req.headline is not None:
            return self.headline_changes(req, req.headline)
        return self.day_changes(req)

    def story_changes(self, req: EditRequest, story_id: str) -> list[Change]:
        stories = base_stories(self.base)
        if story_id not in stories:
            choices = "; ".join(f"{i} ({_short(st.title, 40)})" for i, st in stories.items())
            raise EditError(
                f"unknown story id {story_id!r} for {self.date}; its stories are: "
                f"{choices or 'none (compose the day again to give them ids)'}"
            )
        composed = stories[story_id]
        target = story_target(story_id)
        where = find_story(self.now, story_id)
        current = where[0].stories[where[1]] if where else composed
        label = _short(current.title, 120)
        changes: list[Change] = []

        def text_change(name: str, value: str | None, was: str, base: str, limit: int) -> None:
            if value is None:
                return
            value = _text(value, name, limit) or base
            if value != was:
                changes.append(
                    Change(target, name, None if value == base else value, label, was, value)
                )

        text_change("title", req.title, current.title, composed.title, TITLE_CHARS)
        text_change("summary", req.summary, current.summary, composed.summary, SUMMARY_CHARS)
        composed_section = next(s.name for s in self.base.sections if composed in s.stories)
        changes += self._placing(req, target, label, composed_section, dropped=where is None)
        if (req.lead or req.move) and (where is None or req.drop):
            raise EditError(f"story {story_id} is dropped; restore it first")
        if req.lead and self.ov.get(DAY, "lead") != story_id:
            # Kept even when composing put it first already: composing again must not
            # change the lead an editor chose.
            lead = self.now.sections[0].stories[0] if self.now.sections[0].stories else None
            was = _short(lead.title, 120) if lead else ""
            changes.append(Change(DAY, "lead", story_id, label, was, label))
        if req.drop is True and where is not None and self.ov.get(DAY, "lead") == story_id:
            changes.append(Change(DAY, "lead", None, label, label, "(as composed)"))
        if req.move and where is not None:
            changes.append(self._move(story_id, req.move, where[0].name, label))
        return changes

    def _move(self, story_id: str, step: int, section: str, label: str) -> Change:
        sec = next(s for s in self.now.sections if s.name == section)
        ids = [st.id for st in sec.stories]
        i = ids.index(story_id)
        j = i + step
        if not 0 <= j < len(ids):
            edge = "first" if step < 0 else "last"
            raise EditError(f"story {story_id} is already {edge} in {section}")
        lead = self.ov.get(DAY, "lead")
        if lead and ids[0] == lead and min(i, j) == 0:
            raise EditError(
                f"story {lead} is the lead and stays first; make another story the lead instead"
            )
        ids[i], ids[j] = ids[j], ids[i]
        return Change(
            section_target(section), "order", " ".join(ids), label, str(i + 1), str(j + 1)
        )

    def headline_changes(self, req: EditRequest, text: str) -> list[Change]:
        heads = base_headlines(self.base)
        key = match_key(text)
        if key not in heads:
            raise EditError(
                f"unknown headline {_short(text)!r} for {self.date}; its headlines are: "
                + (" | ".join(heads.values()) or "none")
            )
        headline = heads[key]
        target = headline_target(headline)
        label = _short(headline, 120)
        composed = next(s.name for s in self.base.sections if headline in s.headlines)
        dropped = self.ov.get(target, "dropped") is not None
        return self._placing(req, target, label, composed, dropped)

    def _placing(
        self, req: EditRequest, target: str, label: str, composed: str, dropped: bool
    ) -> list[Change]:
        """The changes of an item's section (`composed`: where composing put it) and of
        whether it is dropped."""
        changes: list[Change] = []
        was = self.ov.get(target, "section") or composed
        if req.section is not None and req.section != was:
            name = _section(self.config, req.section)
            if name != was:
                value = None if name == composed else name
                changes.append(Change(target, "section", value, label, was, name))
        if req.drop is True and not dropped:
            changes.append(Change(target, "dropped", "1", label, "shown", "dropped"))
        if req.drop is False and dropped:
            changes.append(Change(target, "dropped", None, label, "dropped", "shown"))
        return changes

    def day_changes(self, req: EditRequest) -> list[Change]:
        changes: list[Change] = []
        for name, value, now, limit in (
            ("subject", req.subject, self.now.subject, SUBJECT_CHARS),
            ("preheader", req.preheader, self.now.preheader, PREHEADER_CHARS),
        ):
            if value is None:
                continue
            value = _text(value, name, limit)
            if value != now:
                new = value or "(as composed)"
                changes.append(Change(DAY, name, value or None, "the day", now, new))
        return changes


def _check(req: EditRequest) -> None:
    story_only = [
        n for n, v in (("title", req.title), ("summary", req.summary)) if v is not None
    ] + [n for n, v in (("lead", req.lead), ("up/down", req.move)) if v]
    day_only = [
        n for n, v in (("subject", req.subject), ("preheader", req.preheader)) if v is not None
    ]
    item = req.story is not None or req.headline is not None
    if req.story is not None and req.headline is not None:
        raise EditError("name a story or a headline, not both")
    if req.headline is not None and story_only:
        raise EditError(f"{', '.join(story_only)}: only for a story, not a headline")
    if not item and (story_only or req.section is not None or req.drop is not None):
        raise EditError("name the story (--story ID) or the headline (--headline TEXT) to edit")
    if item and day_only:
        raise EditError(f"{', '.join(day_only)}: for the day, not for one story or headline")
    if req.move not in (-1, 0, 1):
        raise EditError("move a story one place up or down at a time")


def edit(store: Store, config: Config, date: str, req: EditRequest, by: str) -> EditResult:
    """Make one edit (several fields of one item at once) as editor `by`. An edit that
    changes nothing records nothing."""
    _check(req)

    def plan(base: Digest, ov: Overrides) -> list[Change]:
        return _Desk(config, date, base, ov).changes(req)

    def edited(base: Digest, ov: Overrides) -> Digest:
        try:
            return apply(base, ov, config)
        except ComposeError:
            raise EditError(
                f"that would leave the digest for {date} without a story; restore or keep one"
            ) from None

    changes, digest, started = store.edit_digest(date, plan, by, edited)
    return EditResult(changes, digest, started and bool(changes))


def log(store: Store, date: str) -> list[Edit]:
    return store.edit_log(date)


@dataclass(frozen=True)
class DeskView:
    """The day as the editor's desk shows it: the edited digest (before the send: what
    subscribers will get; after: the archive's corrected copy), what is dropped, the lead an
    editor chose, the sections an item can move to, and the log."""

    digest: Digest
    dropped_stories: tuple[tuple[str, str], ...]  # (id, title)
    dropped_headlines: tuple[str, ...]
    lead: str | None
    sections: tuple[str, ...]
    log: tuple[Edit, ...]


def desk_view(store: Store, config: Config, date: str) -> DeskView:
    desk = _Desk.of(store, config, date)
    names = config.section_names
    dropped = [p for p in placed(desk.base, desk.ov, names) if p.section is None]
    return DeskView(
        digest=desk.now,
        dropped_stories=tuple((p.story.id, p.story.title) for p in dropped if p.story),
        dropped_headlines=tuple(p.headline for p in dropped if p.headline),
        lead=desk.ov.get(DAY, "lead"),
        sections=tuple(names),
        log=tuple(store.edit_log(date)),
    )


def offer(store: Store, config: Config, date: str, headline: str, section: str) -> list[str]:
    """The words of one of the day's headlines, just moved to `section`, worth adding to its
    keywords: none that a section knows already (from the config or the desk), and none for
    the catch-all section, which takes no keywords."""
    if section not in config.section_names or section == config.more_section:
        return []
    if match_key(headline) not in base_headlines(store.base_digest(date)):
        return []  # only the day's own headlines: a link cannot plant words to offer
    return telling_words(headline, keywords.config_with_learned(store, config).sections)


__all__ = ["DeskView", "EditRequest", "EditResult", "desk_view", "edit", "log", "offer"]
