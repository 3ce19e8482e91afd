"""Section keywords learned from the desk: list, add and remove them, and the config that
composes with them.

An editor who moves a headline to another section may teach that section the headline's
telling words (sections.telling_words). They are stored in the database, folded, and the next
compose reads them beside the config's keywords (config_with_learned).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Config
from ..errors import KeywordError, NotFoundError
from ..sections import with_learned
from ..store import Store
from ..text import fold

MAX_CHARS = 60
MAX_WORDS = 4
# Letters and digits, words joined by single spaces or hyphens (folded text: no capitals).
_KEYWORD = re.compile(r"[^\W_]+(?:[ -][^\W_]+)*")


@dataclass(frozen=True)
class LearnedKeyword:
    section: str
    word: str
    added_by: str
    added_at: dt.datetime


@dataclass(frozen=True)
class Learned:
    """What an add did: the section, the words as stored, and how many of them were new."""

    section: str
    words: tuple[str, ...]
    added: int

    @property
    def known(self) -> int:
        return len(self.words) - self.added


def check_section(config: Config, section: str) -> str:
    """The configured section named `section` (in any case); else a one-line error naming
    the sections that take keywords (not the catch-all: what matches nothing goes there)."""
    names = [s.name for s in config.sections]
    for name in names:
        if name.casefold() == section.strip().casefold():
            return name
    valid = ", ".join(names)
    if section.strip().casefold() == config.more_section.casefold():
        raise NotFoundError(
            f"{config.more_section!r} takes no keywords (it holds what matches no section); "
            f"sections: {valid}"
        )
    raise NotFoundError(f"no section named {section!r} (sections: {valid})")


def check_word(word: str) -> str:
    """The word or phrase as stored (folded, single spaces), or a one-line error."""
    folded = " ".join(fold(word).split())
    if not folded:
        raise KeywordError("a keyword cannot be empty")
    if len(folded) > MAX_CHARS:
        raise KeywordError(f"a keyword has at most {MAX_CHARS} characters, not {len(folded)}")
    shown = word.strip()  # repr() keeps the message on one line
    if len(folded.split()) > MAX_WORDS:
        raise KeywordError(f"keyword {shown!r}: use a phrase of at most {MAX_WORDS} words")
    if not _KEYWORD.fullmatch(folded):
        raise KeywordError(
            f"keyword {shown!r}: use only letters, digits, spaces and hyphens between words"
        )
    return folded


def list_keywords(store: Store) -> list[LearnedKeyword]:
    return [LearnedKeyword(*row) for row in store.learned_keywords()]


def add_keywords(
    store: Store, config: Config, section: str, words: Iterable[str], by: str
) -> Learned:
    """Teach the section the words. Every word is checked before any is stored, so a refused
    word stores none; words already learned are skipped."""
    name = check_section(config, section)
    checked = tuple(dict.fromkeys(check_word(w) for w in words))
    if not checked:
        raise KeywordError("give at least one keyword")
    return Learned(name, checked, store.add_keywords(name, checked, by))


def remove_keyword(store: Store, config: Config, section: str, word: str) -> str:
    """Forget a learned word (the config's own keywords stay); the section's name. The words
    of a section since taken out of the config can be removed too."""
    try:
        name = check_section(config, section)
    except NotFoundError:
        if section not in {k.section for k in list_keywords(store)}:
            raise
        name = section
    folded = " ".join(fold(word).split())
    if not store.remove_keyword(name, folded):
        known = ", ".join(k.word for k in list_keywords(store) if k.section == name) or "none"
        raise NotFoundError(f"{name!r} has no learned keyword {word!r} (learned: {known})")
    return name


def config_with_learned(store: Store, config: Config) -> Config:
    """The config whose sections also carry the learned keywords, for the next compose."""
    learned: dict[str, list[str]] = defaultdict(list)
    for k in list_keywords(store):
        learned[k.section].append(k.word)
    if not learned:
        return config
    return dataclasses.replace(config, sections=with_learned(config.sections, learned))


__all__ = [
    "Learned",
    "LearnedKeyword",
    "add_keywords",
    "check_section",
    "check_word",
    "config_with_learned",
    "list_keywords",
    "remove_keyword",
]
