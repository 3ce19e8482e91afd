"""The settings that are tables rather than one value: [[sections]], [[sources]],
[category_sections] and [[webhooks]]; and the check every text setting passes (config.py reads
the rest)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError


@dataclass(frozen=True)
class SectionRule:
    """A topic section: the words and phrases of its topic (what a story is about), and the
    actors its news names (who: capitals, blocs, leaders), which count for less."""

    name: str
    keywords: tuple[str, ...]
    actors: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceRule:
    """A source fetched beside the story documents: a feed (RSS, Atom, JSON Feed) or a single
    article page, at an http(s) address or a local path. `sections`: the sections its items
    lean to; `kind` (feed or page) is told from the answer when None."""

    name: str
    url: str
    sections: tuple[str, ...] = ()
    kind: str | None = None


SOURCE_KINDS = ("feed", "page")

# What a webhook can be told of (jobs/webhooks.py posts them; the store writes them).
WEBHOOK_EVENTS = (
    "subscriber.created",
    "subscriber.confirmed",
    "subscriber.unsubscribed",
    "subscriber.bounced",
    "digest.composed",
    "digest.approved",
    "send.started",
    "send.finished",
    "delivery.failed",
)
MIN_WEBHOOK_SECRET = 16


@dataclass(frozen=True)
class WebhookRule:
    """An endpoint told of events: POSTed JSON signed with `secret` (HMAC-SHA256)."""

    url: str
    secret: str = field(repr=False)
    events: tuple[str, ...] = WEBHOOK_EVENTS


# C0 (CR, LF and TAB among them), DEL, C1, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def text_setting(key: str, value: Any) -> str:
    """A non-empty string without control characters: settings reach message headers
    (From, List-Id, List-Unsubscribe, the envelope), URLs and log lines, where a line break
    would add a header of its own (a Bcc to every message)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    text = value.strip()
    found = _CONTROL.search(text)
    if found:
        raise ValueError(
            f"must not contain line breaks or other control characters "
            f"(U+{ord(found.group()):04X} at character {found.start() + 1})"
        )
    return text


_SECTION_KEYS = ("name", "keywords", "actors")
_SOURCE_KEYS = ("name", "url", "sections", "kind")
_WEBHOOK_KEYS = ("url", "secret", "events")


def _checked(
    origin: str, raw: list[Any], kind: str, keys: tuple[str, ...], needs: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each [[kind]] table with its place (for messages), once it is a table with no unknown
    key."""
    for i, item in enumerate(raw, 1):
        where = f"{origin}: {kind}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table with {needs}")
        unknown = sorted(set(item) - set(keys))
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r}")
        yield where, item


def _tables(
    origin: str, raw: list[Any], kind: str, keys: tuple[str, ...], needs: str
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Each [[kind]] table with its place (for messages) and its name, once it is a table
    with no unknown key and a name (it reaches URLs and the message) no other one has."""
    seen: set[str] = set()
    for where, item in _checked(origin, raw, kind, keys, needs):
        try:
            name = text_setting("name", item.get("name"))
        except ValueError as exc:
            raise ConfigError(f"{where}.name {exc}") from None
        if name.casefold() in seen:
            raise ConfigError(f"{where}.name {name!r} appears twice")
        seen.add(name.casefold())
        yield where, item, name


def _section_named(where: str, name: object, sections: tuple[SectionRule, ...]) -> str:
    """The configured section `name` names (in any case), as the config spells it."""
    names = {s.name.casefold(): s.name for s in sections}
    if not isinstance(name, str) or name.casefold() not in names:
        raise ConfigError(
            f"{where}: no section named {name!r} (sections: {', '.join(names.values())})"
        )
    return names[name.casefold()]


def source_rules(
    origin: str, raw: Any, sections: tuple[SectionRule, ...]
) -> tuple[SourceRule, ...]:
    """[[sources]] tables: a unique name, a url (http(s) or a local path), optional sections
    (names of configured sections) and kind."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: sources must be a list of [[sources]] tables")
    found: list[SourceRule] = []
    for where, item, name in _tables(origin, raw, "sources", _SOURCE_KEYS, "name and url"):
        if len(name) > 100:
            raise ConfigError(f"{where}.name is longer than 100 characters")
        try:
            url = text_setting("url", item.get("url"))
        except ValueError as exc:
            raise ConfigError(f"{where}.url {exc}") from None
        if "://" in url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.url must be an http(s) address or a local path")
        leans = _word_list(where, "sections", item.get("sections", []))
        named = tuple(_section_named(f"{where}.sections", s, sections) for s in leans)
        kind = item.get("kind")
        if kind is not None and kind not in SOURCE_KINDS:
            raise ConfigError(f"{where}.kind must be one of {', '.join(SOURCE_KINDS)}")
        found.append(SourceRule(name, url, named, kind))
    return tuple(found)


def webhook_rules(origin: str, raw: Any) -> tuple[WebhookRule, ...]:
    """[[webhooks]] tables: an http(s) url (each once), a secret of at least 16 characters,
    and the events to send (all of them when left out)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: webhooks must be a list of [[webhooks]] tables")
    found: list[WebhookRule] = []
    for where, item in _checked(origin, raw, "webhooks", _WEBHOOK_KEYS, "url and secret"):
        try:
            url = text_setting("url", item.get("url"))
        except ValueError as exc:
            raise ConfigError(f"{where}.url {exc}") from None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            raise ConfigError(f"{where}.url must be an http(s) address")
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise ConfigError(f"{where}.url must be an http(s) address") from None
        if any(w.url == url for w in found):
            raise ConfigError(f"{where}.url appears twice")
        secret = item.get("secret")
        if not isinstance(secret, str) or len(secret.strip()) < MIN_WEBHOOK_SECRET:
            # The value itself is left out: it is a secret.
            raise ConfigError(
                f"{where}.secret must be a string of at least {MIN_WEBHOOK_SECRET} characters"
            )
        events = _word_list(where, "events", item.get("events", list(WEBHOOK_EVENTS)))
        for name in events:
            if name not in WEBHOOK_EVENTS:
                raise ConfigError(
                    f"{where}.events: no event {name!r} (events: {', '.join(WEBHOOK_EVENTS)})"
                )
        found.append(WebhookRule(url, secret.strip(), tuple(dict.fromkeys(events))))
    return tuple(found)


def category_sections(
    origin: str, raw: Any, sections: tuple[SectionRule, ...]
) -> tuple[tuple[str, str], ...]:
    """[category_sections]: a feed category -> a configured section's name."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: category_sections must be a table of category = section")
    return tuple(
        (category.strip(), _section_named(f"{origin}: category_sections.{category}", s, sections))
        for category, s in raw.items()
    )


def section_rules(origin: str, raw: Any) -> tuple[SectionRule, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{origin}: sections must be a non-empty list of [[sections]] tables")
    return tuple(
        SectionRule(
            name,
            _word_list(where, "keywords", item.get("keywords")),
            _word_list(where, "actors", item.get("actors", [])),
        )
        for where, item, name in _tables(
            origin, raw, "sections", _SECTION_KEYS, "name and keywords"
        )
    )


def _word_list(where: str, key: str, words: Any) -> tuple[str, ...]:
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ConfigError(f"{where}.{key} must be a list of non-empty strings")
    return tuple(w.strip() for w in words)


__all__ = [
    "SOURCE_KINDS",
    "WEBHOOK_EVENTS",
    "SectionRule",
    "SourceRule",
    "WebhookRule",
    "category_sections",
    "section_rules",
    "source_rules",
    "text_setting",
    "webhook_rules",
]
