"""The settings that are tables rather than one value: [[sections]], [[sources]] and
[category_sections]; and the check every text setting passes (config.py reads the rest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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


def source_rules(
    origin: str, raw: Any, sections: tuple[SectionRule, ...]
) -> tuple[SourceRule, ...]:
    """[[sources]] tables: a unique name, a url (http(s) or a local path), optional sections
    (names of configured sections) and kind."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: sources must be a list of [[sources]] tables")
    names = {s.name.casefold(): s.name for s in sections}
    found: list[SourceRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw, 1):
        where = f"{origin}: sources[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table with name and url")
        unknown = sorted(set(item) - set(_SOURCE_KEYS))
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r}")
        try:
            name = text_setting("name", item.get("name"))
            url = text_setting("url", item.get("url"))
        except ValueError as exc:
            raise ConfigError(f"{where}: name and url {exc}") from None
        if len(name) > 100:
            raise ConfigError(f"{where}.name is longer than 100 characters")
        if name.casefold() in seen:
            raise ConfigError(f"{where}.name {name!r} appears twice")
        seen.add(name.casefold())
        if "://" in url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.url must be an http(s) address or a local path")
        leans = _word_list(where, "sections", item.get("sections", []))
        bad = [s for s in leans if s.casefold() not in names]
        if bad:
            raise ConfigError(
                f"{where}.sections: no section named {bad[0]!r} "
                f"(sections: {', '.join(names.values())})"
            )
        kind = item.get("kind")
        if kind is not None and kind not in SOURCE_KINDS:
            raise ConfigError(f"{where}.kind must be one of {', '.join(SOURCE_KINDS)}")
        found.append(SourceRule(name, url, tuple(names[s.casefold()] for s in leans), kind))
    return tuple(found)


def category_sections(
    origin: str, raw: Any, sections: tuple[SectionRule, ...]
) -> tuple[tuple[str, str], ...]:
    """[category_sections]: a feed category -> a configured section's name."""
    if raw is None:
        return ()
    names = {s.name.casefold(): s.name for s in sections}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: category_sections must be a table of category = section")
    found: list[tuple[str, str]] = []
    for category, section in raw.items():
        if not isinstance(section, str) or section.casefold() not in names:
            raise ConfigError(
                f"{origin}: category_sections.{category}: no section named {section!r} "
                f"(sections: {', '.join(names.values())})"
            )
        found.append((category.strip(), names[section.casefold()]))
    return tuple(found)


def section_rules(origin: str, raw: Any) -> tuple[SectionRule, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{origin}: sections must be a non-empty list of [[sections]] tables")
    rules: list[SectionRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw, 1):
        where = f"{origin}: sections[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table with name and keywords")
        unknown = sorted(set(item) - set(_SECTION_KEYS))
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r}")
        try:
            name = text_setting(
                "name", item.get("name")
            )  # section names reach URLs and the message
        except ValueError as exc:
            raise ConfigError(f"{where}.name {exc}") from None
        if name.casefold() in seen:
            raise ConfigError(f"{where}.name {name!r} appears twice")
        keywords = _word_list(where, "keywords", item.get("keywords"))
        actors = _word_list(where, "actors", item.get("actors", []))
        seen.add(name.casefold())
        rules.append(SectionRule(name, keywords, actors))
    return tuple(rules)


def _word_list(where: str, key: str, words: Any) -> tuple[str, ...]:
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ConfigError(f"{where}.{key} must be a list of non-empty strings")
    return tuple(w.strip() for w in words)


__all__ = [
    "SOURCE_KINDS",
    "SectionRule",
    "SourceRule",
    "category_sections",
    "section_rules",
    "source_rules",
    "text_setting",
]
