"""Assign stories and headlines to topic sections by the words that mark each section. Pure.

All keywords of all sections go into one regular expression, longest first, so a phrase
("missile defense") wins over a word inside it ("missile") and each stretch of text counts once.
A match scores its number of words, so phrases weigh more than single words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .config import SectionRule
from .text import fold

# Where a story's words are found, and how much they count.
TITLE_WEIGHT = 3
HINT_WEIGHT = 2
BODY_WEIGHT = 1
BODY_PARAGRAPHS = 6  # the lede and the first paragraphs say what a story is about


@dataclass(frozen=True)
class Classifier:
    """Scores text against the configured sections; the first section wins ties."""

    names: tuple[str, ...]
    more: str
    pattern: re.Pattern[str] | None
    owners: dict[str, tuple[int, ...]]  # folded keyword -> indexes of sections that list it

    @classmethod
    def from_rules(cls, rules: Sequence[SectionRule], more: str) -> Classifier:
        owners: dict[str, list[int]] = defaultdict(list)
        for i, rule in enumerate(rules):
            for word in rule.keywords:
                key = " ".join(fold(word).split())
                if i not in owners[key]:
                    owners[key].append(i)
        words = sorted(owners, key=lambda w: (-len(w), w))
        # Whole words only, an optional plural ending, flexible white space inside phrases.
        alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
        pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?:s|es)?(?![\w-])") if words else None
        return cls(
            names=tuple(r.name for r in rules),
            more=more,
            pattern=pattern,
            owners={k: tuple(v) for k, v in owners.items()},
        )

    def scores(self, text: str, weight: int = 1) -> list[int]:
        totals = [0] * len(self.names)
        if self.pattern is None:
            return totals
        for m in self.pattern.finditer(fold(text)):
            key = self._key(m.group(0))
            for i in self.owners.get(key, ()):
                totals[i] += weight * (key.count(" ") + 1)
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
