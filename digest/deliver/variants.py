"""One MessageTemplate per distinct choice of sections, rendered once per send."""

from __future__ import annotations

from dataclasses import replace

from ..addresses import domain_of
from ..compose import preheader_of, subject_line
from ..config import Config
from ..model import Digest
from ..render import Links, Renderer
from .message import PREFERENCES_TOKEN, UNSUBSCRIBE_TOKEN, MessageTemplate

SectionChoice = tuple[str, ...] | None  # None: every section


def list_key(config: Config) -> str:
    """A short dotted-atom name for the list, from its display name."""
    slug = "".join(c if c.isalnum() else "-" for c in config.name.lower())
    return "-".join(p for p in slug.split("-") if p) or "digest"


def list_id(config: Config) -> str:
    """RFC 2919 List-Id: the newsletter's name and an identifier under its domain."""
    name = config.name.replace('"', "'").replace("\\", "")
    return f'"{name}" <{list_key(config)}.{domain_of(config.from_addr)}>'


def unsubscribe_mailto(config: Config) -> str:
    return config.unsubscribe_mailto or f"unsubscribe@{domain_of(config.from_addr)}"


def template_links(config: Config, date: str) -> Links:
    """Links with placeholders where each subscriber's tokens go."""
    base = config.base_url.rstrip("/")
    return Links(
        unsubscribe=f"{base}/u/{UNSUBSCRIBE_TOKEN}",
        preferences=f"{base}/p/{PREFERENCES_TOKEN}",
        archive=f"{base}/archive/{date}",
    )


def automatic_preheader(digest: Digest) -> bool:
    """Whether the digest's preheader is the one composing made (not an editor's own text):
    then each reader gets one made from their own sections."""
    return digest.preheader == preheader_of(digest.sections)


def for_reader(config: Config, digest: Digest, chosen: Digest) -> Digest:
    """The digest a reader of `chosen` sections gets: a subject naming their lead story (or,
    with no story, their first headline) and, unless an editor wrote the day's preheader,
    a preheader naming only what they get."""
    lead = next((st.title for s in chosen.sections for st in s.stories), None)
    lead = lead or next((h for s in chosen.sections for h in s.headlines), None)
    if lead is not None:
        chosen = replace(chosen, subject=subject_line(config, chosen.date, lead))
    if automatic_preheader(digest):
        chosen = replace(chosen, preheader=preheader_of(chosen.sections))
    return chosen


def make_template(config: Config, renderer: Renderer, digest: Digest) -> MessageTemplate:
    links = template_links(config, digest.date)
    html, cap = renderer.fit(digest, links)
    text = renderer.text(digest, links, headline_cap=cap)
    return MessageTemplate(
        from_addr=config.from_addr,
        subject=digest.subject,
        list_id=list_id(config),
        date=digest.date,
        text=text,
        html=html,
        base_url=config.base_url,
        unsubscribe_mailto=unsubscribe_mailto(config),
        list_key=list_key(config),
    )


class Variants:
    """Templates by section choice, each built on first use; None when the subscriber's
    sections are all absent from this digest (they are skipped, not sent an empty email)."""

    def __init__(self, config: Config, digest: Digest, renderer: Renderer | None = None) -> None:
        self.config = config
        self.digest = digest
        self.renderer = renderer or Renderer(config)
        self._cache: dict[SectionChoice, MessageTemplate | None] = {}
        self.rendered = 0

    def get(self, sections: SectionChoice) -> MessageTemplate | None:
        if sections not in self._cache:
            chosen = self.digest.only(frozenset(sections) if sections else None)
            if not chosen.sections:
                self._cache[sections] = None
            else:
                chosen = for_reader(self.config, self.digest, chosen)
                self._cache[sections] = make_template(self.config, self.renderer, chosen)
                self.rendered += 1
        return self._cache[sections]
