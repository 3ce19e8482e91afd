from __future__ import annotations

import pytest

from digest.config import Config, SectionRule
from digest.sections import Classifier


@pytest.fixture
def classifier(config: Config) -> Classifier:
    return Classifier.from_rules(config.sections, config.more_section)


@pytest.mark.parametrize(
    ("headline", "section"),
    [
        (
            "Netherlands set to boost push for Patriot missile defenses in Ukraine",
            "Missile defense",
        ),
        (
            "Ukraine forces to receive Patriot air defense training in US: Pentagon",
            "Missile defense",
        ),
        ("North Korea fires ballistic missile into sea", "Missiles and strike weapons"),
        ("Feathered robotic wing paves way for flapping drones", "Drones and air power"),
        (
            "Airbus to provide satellite communications for Belgian Armed Forces",
            "Military space and satellites",
        ),
        ("Germany says goodbye to Ukraine-bound tanks", "War report"),
        ("India hikes defence budget 13% with an eye on China", "Defence industry and budgets"),
        ("IAEA inspectors find enriched uranium traces", "Nuclear"),
        ("Astronauts return from the space station after six months", "Space"),
        ("Arctic sea ice reaches record low as climate warms", "Earth and climate"),
        ("Hungary blasts Sweden on NATO row with Turkey", "Superpowers and diplomacy"),
        ("Local bakery wins best croissant award", "More headlines"),
    ],
)
def test_headline_goes_where_its_words_point(
    classifier: Classifier, headline: str, section: str
) -> None:
    assert classifier.headline(headline) == section


def test_phrase_wins_over_the_word_inside_it() -> None:
    rules = (SectionRule("A", ("missile",)), SectionRule("B", ("missile defense",)))
    c = Classifier.from_rules(rules, "More")
    assert c.headline("New missile defense radar") == "B"
    assert c.headline("New missile test") == "A"


def test_plural_and_case_and_whole_words() -> None:
    c = Classifier.from_rules((SectionRule("Drones", ("drone",)),), "More")
    assert c.headline("DRONES over the city") == "Drones"
    assert c.headline("The droneship docks") == "More"


def test_ties_go_to_the_earlier_section() -> None:
    rules = (SectionRule("First", ("alpha",)), SectionRule("Second", ("beta",)))
    c = Classifier.from_rules(rules, "More")
    assert c.headline("alpha and beta") == "First"
    assert c.headline("beta and alpha") == "First"


def test_story_uses_title_hints_and_body(classifier: Classifier) -> None:
    section = classifier.story(
        "Japan and NATO pledge firm response to China, Russia threats",
        ["Leaders met in Tokyo for talks on the alliance and ties with Beijing."],
        ["Learn about the Superpowers of the 21st Century at SpaceWar.com"],
    )
    assert section == "Superpowers and diplomacy"
    # The same body under a nuclear title and hint lands elsewhere: the title counts most.
    section = classifier.story(
        "Uranium enrichment plant expands under IAEA watch",
        ["Inspectors visited the site for talks."],
        ["Learn about nuclear weapons doctrine and defense at SpaceWar.com"],
    )
    assert section == "Nuclear"
