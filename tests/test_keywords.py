"""Learning from the desk (issue #13): the pure helpers (telling_words, with_learned), the
`section_keywords` store, `digest keywords list/add/remove` in-process on real SQLite and
PostgreSQL, and the next compose using what was learned beside the config's keywords."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.compose import compose
from digest.config import Config, SectionRule
from digest.errors import KeywordError, NotFoundError
from digest.jobs import keywords as jobs
from digest.model import Document
from digest.sections import Classifier, telling_words, with_learned
from digest.store import Store

RULES = (
    SectionRule("Space", ("rocket", "launch pad", "orbit"), ("nasa",)),
    SectionRule("Nuclear", ("uranium", "reactor"), ("iaea",)),
)
# Made-up words: no section of the default config knows them, so these land in `more`.
ODD = "Zorvex"
HEADLINE = f"{ODD} consortium unveils quarvilite gizmo prototype"


# ---- pure: with_learned -----------------------------------------------------------------------


def test_with_learned_adds_words_after_the_configured_ones() -> None:
    got = with_learned(RULES, {"Nuclear": ["Centrifuge", "uranium", "centrifuge", "fuel rods"]})
    assert got[0] is RULES[0]  # untouched
    assert got[1].keywords == ("uranium", "reactor", "centrifuge", "fuel rods")
    assert got[1].actors == ("iaea",) and got[1].name == "Nuclear"


def test_with_learned_ignores_unknown_sections_and_empty_words() -> None:
    assert with_learned(RULES, {"Sports": ["football"], "Space": ["", "  "]}) == RULES
    assert with_learned(RULES, {}) == RULES
    assert with_learned((), {"Space": ["x"]}) == ()


def test_learned_words_change_where_a_headline_goes() -> None:
    before = Classifier.from_rules(RULES, "More")
    after = Classifier.from_rules(with_learned(RULES, {"Nuclear": ["centrifuge"]}), "More")
    text = "Engineers test a new centrifuge hall"
    assert before.headline(text) == "More"
    assert after.headline(text) == "Nuclear"
    assert after.headline("Engineers test new centrifuges") == "Nuclear"  # plural too


# ---- pure: telling_words ----------------------------------------------------------------------


def test_telling_words_keeps_topic_words_in_order_folded() -> None:
    got = telling_words("The Zürich startup says it will test orbital tugs", RULES)
    assert got == ["zurich", "startup", "test", "orbital", "tugs"]


def test_telling_words_drops_function_words_numbers_and_short_words() -> None:
    got = telling_words("He said 3 of 40 EU drones were in it by 2027, and 5G too", RULES)
    assert got == ["drones"]


def test_telling_words_drops_existing_keywords_and_actors_and_their_plurals() -> None:
    got = telling_words("NASA rockets reach orbit near a uranium reactor at the launch pad", RULES)
    # "launch" alone and "pad" alone are not keywords (only the phrase is): offered.
    assert got == ["reach", "launch", "pad"]


def test_telling_words_has_no_duplicates_and_strips_possessives() -> None:
    got = telling_words("Gizmo maker's gizmo: GIZMO makers' Gizmos", RULES)
    assert got == ["gizmo", "maker", "makers", "gizmos"]


def test_telling_words_of_nothing_telling() -> None:
    assert telling_words("", RULES) == []
    assert telling_words("It is what it was, said they", RULES) == []


# ---- jobs: checking words and sections ---------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Centrifuge", "centrifuge"),
        ("  Fuel   Rods ", "fuel rods"),
        ("Hubble-class", "hubble-class"),
        ("Ariane 6", "ariane 6"),
        ("Zürich", "zurich"),
        ("line\nbreak", "line break"),  # white space, however written, is one space
    ],
)
def test_words_are_folded(given: str, stored: str) -> None:
    assert jobs.check_word(given) == stored


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 61, "at most 60 characters"),
        ("one two three four five", "at most 4 words"),
        ("drop; table", "letters, digits"),
        ("under_score", "letters, digits"),
        ("-lead", "letters, digits"),
        ("trail-", "letters, digits"),
        ("a--b", "letters, digits"),
    ],
)
def test_bad_words_are_refused_in_one_line(given: str, why: str) -> None:
    with pytest.raises(KeywordError) as err:
        jobs.check_word(given)
    assert why in str(err.value) and "\n" not in str(err.value)


def test_unknown_section_names_the_valid_ones(config: Config) -> None:
    with pytest.raises(NotFoundError) as err:
        jobs.check_section(config, "Sports")
    message = str(err.value)
    assert "Sports" in message and "\n" not in message
    assert all(s.name in message for s in config.sections)
    assert jobs.check_section(config, "space") == "Space"  # any case


def test_the_catch_all_takes_no_keywords(config: Config) -> None:
    with pytest.raises(NotFoundError, match="takes no keywords"):
        jobs.check_section(config, config.more_section)


# ---- the store -------------------------------------------------------------------------------


def test_store_adds_skips_lists_and_removes(store: Store) -> None:
    assert store.add_keywords("Space", ["tug", "gizmo", "tug"], "alice") == 2
    assert store.add_keywords("Space", ["gizmo", "widget"], "bob") == 1
    assert store.add_keywords("Nuclear", ["gizmo"], "bob") == 1  # another section
    assert store.add_keywords("Space", [], "bob") == 0
    rows = store.learned_keywords()
    assert [(s, w, by) for s, w, by, _ in rows] == [
        ("Nuclear", "gizmo", "bob"),
        ("Space", "gizmo", "alice"),  # the first one to add it stays on record
        ("Space", "tug", "alice"),
        ("Space", "widget", "bob"),
    ]
    assert all(at is not None for *_, at in rows)
    assert store.remove_keyword("Space", "gizmo") is True
    assert store.remove_keyword("Space", "gizmo") is False
    assert [w for s, w, *_ in store.learned_keywords() if s == "Space"] == ["tug", "widget"]


def test_a_refused_word_stores_none(store: Store, config: Config) -> None:
    with pytest.raises(KeywordError):
        jobs.add_keywords(store, config, "Space", ["fine", "not;fine"], "alice")
    assert store.learned_keywords() == []


# ---- the commands ----------------------------------------------------------------------------


def run(config: Config, *args: str) -> Result:
    env = {"DIGEST_DATABASE_URL": config.database_url}
    return CliRunner().invoke(cli, ["keywords", *args], env=env)


def test_add_list_and_remove(config: Config, store: Store) -> None:
    r = run(config, "list")
    assert r.exit_code == 0 and "none learned" in r.output
    r = run(config, "add", "space", "Orbital Tug", "gizmo", "GIZMO")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "keywords: added 2 to Space"
    r = run(config, "add", "Space", "gizmo", "widget")
    assert r.output.strip() == "keywords: added 1 to Space (1 already there)"

    r = run(config, "list", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.output)
    assert [(x["section"], x["word"], x["added_by"]) for x in rows] == [
        ("Space", "gizmo", "cli"),
        ("Space", "orbital tug", "cli"),
        ("Space", "widget", "cli"),
    ]
    assert all(x["added_at"] for x in rows)
    r = run(config, "list")
    assert r.output.splitlines()[0].startswith("Space\tgizmo\tadded by cli ")

    r = run(config, "remove", "Space", "Orbital tug")
    assert r.exit_code == 0 and r.output.strip() == "keywords: removed 'Orbital tug' from Space"
    assert [w for _, w, *_ in store.learned_keywords()] == ["gizmo", "widget"]


def test_errors_are_one_line(config: Config, store: Store) -> None:
    r = run(config, "add", "Sports", "football")
    assert r.exit_code == 2
    assert r.output.startswith("error: no section named 'Sports' (sections: ")
    assert len(r.output.strip().splitlines()) == 1 and "Space" in r.output
    r = run(config, "add", "Space", "semi;colon")
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "letters, digits" in r.output
    r = run(config, "remove", "Space", "never-added")
    assert r.exit_code == 2 and "no learned keyword 'never-added'" in r.output
    r = run(config, "add", "Space")  # no words
    assert r.exit_code == 2 and "Missing argument" in r.output
    assert store.learned_keywords() == []


# ---- the next compose ------------------------------------------------------------------------


def day(headlines: list[str]) -> list[Document]:
    story = Document(
        date="2026-11-26",
        title="NASA rocket reaches orbit",
        title_source="document",
        source=None,
        section_label=None,
        body=("A rocket reached orbit today.",),
        headline_groups=(tuple(headlines),),
    )
    return [story]


def section_of(headline: str, cfg: Config, store: Store) -> str:
    digest = compose("2026-11-26", day([headline]), jobs.config_with_learned(store, cfg))
    [name] = [s.name for s in digest.sections if headline in s.headlines]
    return name


def test_compose_uses_learned_keywords(config: Config, store: Store) -> None:
    assert section_of(HEADLINE, config, store) == config.more_section
    assert jobs.config_with_learned(store, config) is config  # nothing learned yet
    r = run(config, "add", "Nuclear", ODD)
    assert r.exit_code == 0, r.output
    assert section_of(HEADLINE, config, store) == "Nuclear"
    # The config's own keywords stay.
    learned = jobs.config_with_learned(store, config)
    nuclear = next(s for s in learned.sections if s.name == "Nuclear")
    configured = next(s for s in config.sections if s.name == "Nuclear")
    assert nuclear.keywords == (*configured.keywords, ODD.lower())
    # And removing the word takes it out of the next compose.
    assert run(config, "remove", "Nuclear", ODD).exit_code == 0
    assert section_of(HEADLINE, config, store) == config.more_section


def test_words_of_a_section_gone_from_the_config_are_ignored(config: Config, store: Store) -> None:
    store.add_keywords("Retired section", [ODD.lower()], "alice")
    assert section_of(HEADLINE, config, store) == config.more_section
    fewer = dataclasses.replace(config, sections=config.sections[:2])
    assert jobs.config_with_learned(store, fewer).sections == fewer.sections
    # Still removable, though no longer configured.
    assert jobs.remove_keyword(store, config, "Retired section", ODD) == "Retired section"
    assert store.learned_keywords() == []
