from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.config import SectionRule, load_config
from digest.errors import ConfigError
from digest.sections import ACTOR_WEIGHT, TOPIC_WEIGHT, Classifier

DIPLOMACY = "Superpowers and diplomacy"
MISSILE_DEFENSE = "Missile defense"
MISSILES = "Missiles and strike weapons"
AIR = "Drones and air power"
MIL_SPACE = "Military space and satellites"
WAR = "War report"
INDUSTRY = "Defence industry and budgets"
NUCLEAR = "Nuclear"
SPACE = "Space"
CLIMATE = "Earth and climate"
MORE = "More headlines"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    """The embedded default sections (an empty folder: no digest.toml)."""
    config = load_config(env={}, cwd=tmp_path_factory.mktemp("defaults"))
    return Classifier.from_rules(config.sections, config.more_section)


# Development headlines, written for these tests (none taken from a sample page): what news on
# each section's topic says on any day, with the section an editor would file it under.
DEV_HEADLINES = [
    ("Leaders hold summit talks in Beijing", DIPLOMACY),
    ("Foreign ministers sign maritime border treaty after years of negotiations", DIPLOMACY),
    ("EU extends sanctions on Moscow for another six months", DIPLOMACY),
    ("Ambassador recalled as diplomatic row deepens between neighbours", DIPLOMACY),
    ("Washington and Beijing trade barbs as rivalry deepens", DIPLOMACY),
    ("Kremlin welcomes Beijing's proposal for a new partnership", DIPLOMACY),
    ("Envoys meet in Geneva to revive stalled peace talks", DIPLOMACY),
    ("Army tests new interceptor against ballistic target over the Pacific", MISSILE_DEFENSE),
    ("Poland orders more air defence batteries", MISSILE_DEFENSE),
    ("Kyiv says air defenses shot down 40 drones overnight", MISSILE_DEFENSE),
    ("Navy destroyer intercepts missile fired toward shipping lane", MISSILE_DEFENSE),
    ("Germany to buy more Patriot systems as NATO boosts air defence", MISSILE_DEFENSE),
    ("Denmark in talks with Israel to replace howitzers", MISSILES),
    ("Kremlin keeps mum on missile systems seen on Moscow rooftops", MISSILES),
    ("Pyongyang test-fires cruise missiles off its east coast", MISSILES),
    ("Army fields longer-range rocket artillery for its brigades", MISSILES),
    ("Hypersonic glide vehicle flies 1,000 km in latest trial", MISSILES),
    ("Marines test precision strike munition from a ship's deck", MISSILES),
    ("Moscow says new ICBM is ready for combat duty", MISSILES),
    ("Swarm of cheap drones overwhelms defenders in army exercise", AIR),
    ("Air force retires the last of its ageing tanker aircraft", AIR),
    ("Fighter jets scrambled as bomber nears national airspace", AIR),
    ("Loitering munitions give infantry squads their own air power", AIR),
    ("Stealth bomber completes first flight", AIR),
    ("Counter-drone lasers tested at desert range", AIR),
    ("Space Force picks new missile-warning satellites", MIL_SPACE),
    ("Military satellite jammed over conflict zone, officials say", MIL_SPACE),
    ("Reconnaissance satellite reaches orbit aboard solid-fuel rocket", MIL_SPACE),
    ("Anti-satellite weapon test condemned by neighbours", MIL_SPACE),
    ("Navy buys secure satellite communications for its fleet", MIL_SPACE),
    ("GPS jamming disrupts flights near the border", MIL_SPACE),
    ("Troops push back assault near contested river town", WAR),
    ("Ceasefire collapses as shelling resumes along the front line", WAR),
    ("Death toll rises after strike on apartment block", WAR),
    ("Rebels seize border crossing after days of fighting", WAR),
    ("Tank brigades regroup ahead of expected counteroffensive", WAR),
    ("Parliament approves record defence budget", INDUSTRY),
    ("Shipyard wins contract for six new frigates", INDUSTRY),
    ("Arms exports hit ten-year high, research institute says", INDUSTRY),
    ("Defence firms struggle to hire engineers as orders pile up", INDUSTRY),
    ("White House presses NATO allies to raise defence spending", INDUSTRY),
    ("Inspectors report rise in uranium enrichment at underground site", NUCLEAR),
    ("Arms control treaty limiting nuclear warheads expires", NUCLEAR),
    ("Reactor restart approved despite safety concerns", NUCLEAR),
    ("Kremlin denies plans for a nuclear test", NUCLEAR),
    ("Navy commissions new ballistic missile submarine", NUCLEAR),
    ("Lunar lander touches down near the Moon's south pole", SPACE),
    ("Astronauts head home after six months aboard the space station", SPACE),
    ("Heavy-lift rocket launch delayed by engine fault", SPACE),
    ("Telescope spots water vapour on a distant exoplanet", SPACE),
    ("Crew capsule docks with orbiting laboratory", SPACE),
    ("Record heatwave grips southern Europe as wildfires spread", CLIMATE),
    ("Floods displace thousands after days of monsoon rain", CLIMATE),
    ("Methane emissions from farms higher than reported", CLIMATE),
    ("Hurricane strengthens to category 4 before landfall", CLIMATE),
    ("Minister visits flooded towns", CLIMATE),
    # A known miss: "satellite" and "glacier" tie, and the earlier section wins.
    pytest.param(
        "Satellite data show glaciers retreating faster than expected",
        CLIMATE,
        marks=pytest.mark.xfail(strict=True, reason="satellite ties glacier; earlier wins"),
    ),
    ("Museum reopens after year-long renovation", MORE),
    ("Central bank holds interest rates steady", MORE),
    ("Police probe break-in at city hall", MORE),
]


@pytest.mark.parametrize(("headline", "section"), DEV_HEADLINES)
def test_headline_goes_where_its_words_point(
    classifier: Classifier, headline: str, section: str
) -> None:
    assert classifier.headline(headline) == section


def test_the_default_sections_name_no_one_days_headlines(tmp_path: Path) -> None:
    """Phrases that only one page's headlines use tune the sections to that day."""
    words = {
        w.casefold()
        for rule in load_config(env={}, cwd=tmp_path).sections
        for w in (*rule.keywords, *rule.actors)
    }
    lifted = {"superpowers of the 21st century", "flapping", "robotic wing", "golden dome"}
    assert not words & lifted


def test_a_topic_word_outweighs_the_actors_around_it() -> None:
    rules = (
        SectionRule("Diplomacy", ("summit",), actors=("kremlin", "beijing", "talks")),
        SectionRule("Weapons", ("howitzer", "missile")),
    )
    c = Classifier.from_rules(rules, "More")
    # Three actor words for the earlier section, one topic word for the later one.
    assert c.headline("Kremlin talks in Beijing on howitzers") == "Weapons"
    # With no topic word the actors still decide; a topic word of their own section wins.
    assert c.headline("Kremlin talks in Beijing") == "Diplomacy"
    # A topic word each: the actors tip the balance.
    assert c.headline("Missile summit in Beijing") == "Diplomacy"
    assert TOPIC_WEIGHT > 3 * ACTOR_WEIGHT > 0


def test_a_word_weighs_as_its_section_lists_it() -> None:
    """The same word may be one section's topic and another's actor."""
    rules = (SectionRule("A", (), actors=("nato",)), SectionRule("B", ("nato",)))
    assert Classifier.from_rules(rules, "More").headline("NATO") == "B"
    # Listed both ways in one section, it counts once, as a topic word.
    rules = (SectionRule("A", ("nato",), actors=("nato",)), SectionRule("B", ("nato", "nato")))
    assert Classifier.from_rules(rules, "More").scores("NATO") == [TOPIC_WEIGHT, TOPIC_WEIGHT]


@pytest.mark.parametrize(
    ("headline", "section"),
    [
        ("Denmark in talks with Israel to replace howitzers", MISSILES),
        ("Kremlin keeps mum on missile systems seen on Moscow rooftops", MISSILES),
        ("Beijing and Moscow hail ties as president visits", DIPLOMACY),
        ("NATO ministers meet as troops mass near border", WAR),
        ("Pentagon asks Congress for bigger budget", INDUSTRY),
    ],
)
def test_default_actors_yield_to_topic_words(
    classifier: Classifier, headline: str, section: str
) -> None:
    assert classifier.headline(headline) == section


def test_phrase_wins_over_the_word_inside_it() -> None:
    rules = (SectionRule("A", ("missile",)), SectionRule("B", ("missile defense",)))
    c = Classifier.from_rules(rules, "More")
    assert c.headline("New missile defense radar") == "B"
    assert c.headline("New missile test") == "A"
    # Also when the phrase is an actor and the word inside it a topic word.
    rules = (SectionRule("A", ("house",)), SectionRule("B", (), actors=("white house",)))
    assert Classifier.from_rules(rules, "More").headline("White House says") == "B"


def test_plural_and_case_and_whole_words() -> None:
    c = Classifier.from_rules((SectionRule("Drones", ("drone",)),), "More")
    assert c.headline("DRONES over the city") == "Drones"
    assert c.headline("The droneship docks") == "More"
    c = Classifier.from_rules((SectionRule("D", (), actors=("ally",)),), "More")
    assert c.headline("Allyship") == "More"


def test_ties_go_to_the_earlier_section() -> None:
    rules = (SectionRule("First", ("alpha",)), SectionRule("Second", ("beta",)))
    c = Classifier.from_rules(rules, "More")
    assert c.headline("alpha and beta") == "First"
    assert c.headline("beta and alpha") == "First"


def test_story_uses_title_hints_and_body(classifier: Classifier) -> None:
    body = ["Ministers from both capitals met in Beijing for talks on ties with Moscow."]
    section = classifier.story(
        "Rivals agree to reopen embassies after a decade", body, ["More on diplomacy"]
    )
    assert section == DIPLOMACY
    # The same body under a nuclear title and hint lands elsewhere: the title counts most.
    section = classifier.story(
        "Uranium enrichment plant expands under inspectors' watch",
        body,
        ["More on nuclear deterrence"],
    )
    assert section == NUCLEAR


# ---- config: [[sections]] tables ----


def sections_config(tmp_path: Path, table: str) -> Path:
    (tmp_path / "digest.toml").write_text(f"[[sections]]\n{table}\n", encoding="utf-8")
    return tmp_path


def test_actors_are_read_from_digest_toml(tmp_path: Path) -> None:
    folder = sections_config(
        tmp_path, 'name = "Arms"\nkeywords = ["howitzer"]\nactors = [" Kremlin ", "talks"]'
    )
    (rule,) = load_config(env={}, cwd=folder).sections
    assert rule == SectionRule("Arms", ("howitzer",), ("Kremlin", "talks"))


def test_a_section_may_give_just_keywords(tmp_path: Path) -> None:
    folder = sections_config(tmp_path, 'name = "Arms"\nkeywords = ["howitzer"]')
    assert load_config(env={}, cwd=folder).sections == (SectionRule("Arms", ("howitzer",)),)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('actors = "kremlin"', r"sections\[1\]\.actors must be a list of non-empty strings"),
        ("actors = [1, 2]", r"sections\[1\]\.actors must be a list of non-empty strings"),
        ('actors = ["nato", " "]', r"sections\[1\]\.actors must be a list of non-empty strings"),
        ("actors = [[]]", r"sections\[1\]\.actors must be a list of non-empty strings"),
        ("actors = {}", r"sections\[1\]\.actors must be a list of non-empty strings"),
        ('keywords = "howitzer"', r"sections\[1\]\.keywords must be a list of non-empty"),
        ('actor = ["nato"]', r"sections\[1\] has an unknown key 'actor'"),
    ],
)
def test_bad_section_lists_name_the_key(tmp_path: Path, table: str, message: str) -> None:
    lines = {"name": 'name = "Arms"', "keywords": 'keywords = ["howitzer"]'}
    key = table.split(" ", 1)[0]
    lines[key] = table
    folder = sections_config(tmp_path, "\n".join(lines.values()))
    with pytest.raises(ConfigError, match=message):
        load_config(env={}, cwd=folder)


def test_the_word_tree_matches_what_a_list_of_alternatives_matches() -> None:
    """The pattern is built as a tree of shared beginnings for speed; it must find exactly
    what one alternative per word, longest first, finds."""
    words = [
        "arm",
        "army",
        "arms race",
        "missile",
        "missile defense",
        "missile defence",
        "s-400",
        "david's sling",
        "air",
        "air defense",
        "air force",
        "airstrike",
    ]
    c = Classifier.from_rules((SectionRule("A", tuple(words)),), "More")
    alternatives = "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=lambda w: (-len(w), w))
    )
    plain = re.compile(rf"(?<![\w-])(?:{alternatives})(?:s|es)?(?![\w-])")
    text = (
        "armies and army units; an arms race; missile defences and missiles; s-400s, "
        "david's slings; air  defense, airstrikes, air forces, airs; armed; arm-wrestling"
    )
    assert c.pattern is not None
    got = [m.group() for m in c.pattern.finditer(text)]
    assert got == [m.group() for m in plain.finditer(text)]
    assert "missile defences" in got and "air  defense" in got and "armed" not in got
