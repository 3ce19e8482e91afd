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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .config import SectionRule
from .text import STOPWORDS, fold, words

# Where a story's words are found, and how much they count.
TITLE_WEIGHT = 3
HINT_WEIGHT = 2
BODY_WEIGHT = 1
BODY_PARAGRAPHS = 6  # the lede and the first paragraphs say what a story is about

# A feed category that names a section (or is mapped to one) counts as much as one of its
# topic words in the title; the sections a source leans to, as much as one in the body.
CATEGORY_POINTS = TITLE_WEIGHT * 4
LEAN_POINTS = BODY_WEIGHT * 4

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

    def story(
        self,
        title: str,
        body: Sequence[str],
        hints: Sequence[str],
        extra: Mapping[str, int] | None = None,
    ) -> str:
        """Where a story goes: its title's words, then its hints' (related links, feed
        categories), then its first paragraphs'; `extra` adds points to sections by name (a
        feed category that names one, the sections its source leans to)."""
        totals = self.scores(title, TITLE_WEIGHT)
        for name, points in (extra or {}).items():
            if name in self.names:
                totals[self.names.index(name)] += points
        for part, weight in (
            (" ".join(hints), HINT_WEIGHT),
            (" ".join(body[:BODY_PARAGRAPHS]), BODY_WEIGHT),
        ):
            for i, v in enumerate(self.scores(part, weight)):
                totals[i] += v
        return self.best(totals)


# ---- learning from the desk ---------------------------------------------------------------

# English function words and the verbs and adjectives of any news headline: they say nothing
# about a topic, so they are never offered as a section's keywords. A generic list, not one
# fitted to any day's headlines.
_FUNCTION_WORDS = """
    a about above across after again against ago ahead all almost along already also although
    always am among amid an and another any anyone anything are around as at away back be
    because become becomes been before behind being below beside besides between beyond both
    but by can cannot could did do does doing done down during each either else enough even
    ever every few first for from further get gets getting give gives go goes going gone got
    had has have having he her here hers him his how however i if in inside into is it its
    just last late latest least less let like little made make makes many may me might more
    most much must my near nearly need needs never new next no nor not now of off often on
    once one only onto or other others our ours out over own per perhaps put rather really
    said same say says see seen set sets several shall she should since so some still such
    take takes than that the their theirs them then there these they this those though three
    through thus till to today too took toward towards two under unless until up upon us use
    used very via want wants was way we week well were what when where whether which while
    who whom whose why will with within without would year years yet you your
    announce announces announced begin begins build builds call calls called come comes end
    ends hit hits hold holds keep keeps look looks meet meets news open opens plan plans
    report reports reported seek seeks show shows start starts time told top update urge
    urges warn warns
"""
FUNCTION_WORDS = STOPWORDS | frozenset(_FUNCTION_WORDS.split())
MIN_WORD = 3  # shorter words ("un", "eu") are initials more often than topics


def with_learned(
    rules: Sequence[SectionRule], learned: Mapping[str, Sequence[str]]
) -> tuple[SectionRule, ...]:
    """The rules with each named section's learned words added to its keywords (after the
    configured ones, without duplicates); a name that is no section of the rules is ignored."""
    out: list[SectionRule] = []
    for rule in rules:
        extra = learned.get(rule.name, ())
        if not extra:
            out.append(rule)
            continue
        seen = {" ".join(fold(k).split()) for k in rule.keywords}
        keywords = list(rule.keywords)
        for word in extra:
            key = " ".join(fold(word).split())
            if key and key not in seen:
                seen.add(key)
                keywords.append(key)
        out.append(replace(rule, keywords=tuple(keywords)))
    return tuple(out)


def _known(rules: Sequence[SectionRule]) -> set[str]:
    return {" ".join(fold(w).split()) for r in rules for w in (*r.keywords, *r.actors)}


def telling_words(headline: str, rules: Sequence[SectionRule]) -> list[str]:
    """The headline's words worth offering as a section's keywords, in their order: folded,
    without function words, numbers, very short words, and words that already are a keyword
    or an actor of some section (a plural counts as its singular, as the classifier reads it)."""
    known = _known(rules)
    found: list[str] = []
    for word in words(headline):
        if word.endswith("'s"):
            word = word[:-2]  # Beijing's -> beijing
        word = word.strip("'-")
        if (
            len(word) < MIN_WORD
            or word in FUNCTION_WORDS
            or not any(ch.isalpha() for ch in word)
            or "'" in word
            or word in found
        ):
            continue
        if word in known or any(
            word.endswith(end) and word[: -len(end)] in known for end in ("s", "es")
        ):
            continue
        found.append(word)
    return found
