"""Small pure text helpers shared by ingest, sections and compose."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
# The combining diacritical mark blocks: what NFKD splits off accented letters.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Possessive (Python 3.11): the two classes are disjoint, so backtracking can never find another
# match, and not keeping its positions makes findall a third faster.
_WORD = re.compile(r"[a-z0-9]++(?:[-'][a-z0-9]++)*+")
# A sentence ends at . ! or ? (maybe followed by a closing quote or bracket) before a space and
# a capital, a digit or an opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "gen",
    "lt",
    "col",
    "maj",
    "capt",
    "cmdr",
    "adm",
    "sgt",
    "rep",
    "sen",
    "gov",
    "st",
    "jr",
    "sr",
    "inc",
    "corp",
    "co",
    "ltd",
    "no",
    "vs",
    "etc",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.k",
    "u.n",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
    "approx",
    "est",
    "fig",
}
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "over",
        "says",
        "said",
        "she",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "up",
        "was",
        "were",
        "will",
        "with",
        "would",
        "after",
        "amid",
        "about",
        "new",
        "more",
        "than",
        "not",
        "but",
        "who",
        "what",
        "when",
        "where",
        "which",
        "while",
        "how",
        "why",
        "also",
        "can",
        "could",
        "may",
        "us",
        "out",
        "off",
        "against",
    ]
)


def clean_spaces(text: str) -> str:
    """Collapse runs of white space and trim."""
    return " ".join(text.split())  # str.split() knows every Unicode space, at C speed


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, not breaking after common abbreviations."""
    parts = _SENTENCE_END.split(text.strip())
    out: list[str] = []
    for part in parts:
        if out:
            last_word = out[-1].rsplit(" ", 1)[-1].rstrip(".").lower()
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                out[-1] = f"{out[-1]} {part}"
                continue
        out.append(part)
    return [s.strip() for s in out if s.strip()]


def first_sentence(text: str) -> str:
    found = sentences(text)
    return found[0] if found else text.strip()


def ends_sentence(text: str) -> bool:
    return text.rstrip("\"'”’)] ").endswith((".", "!", "?"))


def fold(text: str) -> str:
    """Case- and accent-insensitive form with straight quotes, for comparisons."""
    text = text.translate(_QUOTES)
    if not text.isascii():  # most text is ASCII once the quotes are straight: skip the work
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return text.casefold()


def words(text: str) -> list[str]:
    """The folded words of a text."""
    return _WORD.findall(fold(text))


def words_per_line(lines: list[str]) -> list[list[str]]:
    """words() of each line (no line holds a newline): one fold for them all, which is the
    larger part of the cost for short lines such as headlines."""
    if not lines:
        return []
    return [_WORD.findall(line) for line in fold("\n".join(lines)).split("\n")]


def match_key(text: str) -> str:
    """Key under which two headlines count as the same: words only, folded."""
    return " ".join(words(text))


def stem(word: str) -> str:
    """A crude stem, enough to match 'threats' with 'threatening' and 'missiles' with 'missile'."""
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    return word[:6]


class _Stems(dict[str, str]):
    """word -> its stem, or "" for a stop word or a single character, worked out on first
    use. Ingest meets the same few thousand words again and again; as a dict, a lookup of a
    known word (map(STEMS.__getitem__, ...)) stays in C."""

    def __missing__(self, word: str) -> str:
        found = "" if word in STOPWORDS or len(word) < 2 else stem(word)
        if len(self) < 500_000:  # bounded: a pathological corpus cannot grow it forever
            self[word] = found
        return found


STEMS = _Stems()


def long_date(date: str) -> str:
    """'2026-11-26' -> 'Thursday 26 November 2026' (month-precision dates stay as they are)."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return date
    return f"{day:%A} {day.day} {day:%B %Y}"
