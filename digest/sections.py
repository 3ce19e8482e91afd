"""Assign stories and headlines to topic sections by the words that mark each section. Pure.

All keywords and actors of all sections go into one regular expression, longest first, so a
phrase ("missile defense") wins over a word inside it ("missile") and each stretch of text counts
once. A match scores its number of words, so phrases weigh more than single words, times
TOPIC_WEIGHT for a section's keywords (what a story is about: "howitzer", "enrichment") or
ACTOR_WEIGHT for its actors (who is named: "Kremlin", "NATO", "talks"), so one topic word
outweighs the actors around it: "Denmark in talks with Israel to replace howitzers" is about
howitzers, "Leaders hold summit talks in Beijing" about a summit (diplomacy), and a headline that
names only actors ("Kremlin welcomes Beijing's proposal") goes where its actors point.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .config import SectionRule
from .text import fold

# Where a story's words are found, and how much they count.
TITLE_WEIGHT = 3
HINT_WEIGHT = 2
BODY_WEIGHT = 1
BODY_PARAGRAPHS = 6  # the lede and the first paragraphs say what a story is about

# What a word says about a story: its topic, or only who is in it.
TOPIC_WEIGHT = 4  # a section's keywords; one outweighs three actor words
ACTOR_WEIGHT = 1  # a section's actors: they decide where topic words are few or none


def _trie(words: Iterable[str]) -> str:
    """One pattern for all the words, as a tree of their shared beginnings ("missile(?:
    defen[cs]e)?..."): the regular expression engine then reads each character once instead
    of trying hundreds of alternatives at every position. Longer words are tried first (a
    greedy optional part), so a phrase still wins over a word inside it."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def build(node: dict[str, Any]) -> str:
        branches = [
            (r"\s+" if ch == " " else re.escape(ch)) + build(child)
            for ch, child in sorted(node.items())
            if ch
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return build(root)


@dataclass(frozen=True)
class Classifier:
    """Scores text against the configured sections; the first section wins ties."""

    names: tuple[str, ...]
    more: str
    pattern: re.Pattern[str] | None
    # folded word -> (index of a section that lists it, TOPIC_WEIGHT or ACTOR_WEIGHT) pairs
    owners: dict[str, tuple[tuple[int, int], ...]]

    @classmethod
    def from_rules(cls, rules: Sequence[SectionRule], more: str) -> Classifier:
        owners: dict[str, dict[int, int]] = defaultdict(dict)
        for i, rule in enumerate(rules):
            for listed, kind in ((rule.keywords, TOPIC_WEIGHT), (rule.actors, ACTOR_WEIGHT)):
                for word in listed:
                    key = " ".join(fold(word).split())
                    owners[key][i] = max(owners[key].get(i, 0), kind)
        # Whole words only, an optional plural ending, flexible white space inside phrases.
        alternatives = _trie(owners)
        pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?:s|es)?(?![\w-])") if owners else None
        return cls(
            names=tuple(r.name for r in rules),
            more=more,
            pattern=pattern,
            owners={k: tuple(v.items()) for k, v in owners.items()},
        )

    def scores(self, text: str, weight: int = 1) -> list[int]:
        totals = [0] * len(self.names)
        if self.pattern is None:
            return totals
        for m in self.pattern.finditer(fold(text)):
            key = self._key(m.group(0))
            for i, kind in self.owners.get(key, ()):
                totals[i] += weight * kind * (key.count(" ") + 1)
        return totals

    def _key(self, matched: str) -> str:
        key = " ".join(matched.split())
        if key in self.owners:
            return key
        for ending in ("es", "s"):
            if key.endswith(ending) and key[: -len(ending)] in self.owners:
                return key[: -len(ending)]
        return key

    def best(self, totals: Sequence[int]) -> str:
        top = max(totals, default=0)
        if top <= 0:
            return self.more
        return self.names[totals.index(top)]

    def headline(self, text: str) -> str:
        """A headline goes where its own words point."""
        return self.best(self.scores(text))

    def story(self, title: str, body: Sequence[str], hints: Sequence[str]) -> str:
        totals = self.scores(title, TITLE_WEIGHT)
        for part, weight in (
            (" ".join(hints), HINT_WEIGHT),
            (" ".join(body[:BODY_PARAGRAPHS]), BODY_WEIGHT),
        ):
            for i, v in enumerate(self.scores(part, weight)):
                totals[i] += v
        return self.best(totals)
