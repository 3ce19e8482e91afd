from __future__ import annotations

import pytest

from digest.compose import compose, long_date, summarize
from digest.config import Config
from digest.errors import ComposeError
from digest.model import Document
from digest.text import sentences


def doc(
    title: str,
    body: list[str],
    groups: list[list[str]] | None = None,
    source: str | None = "SpaceWar.com",
) -> Document:
    return Document(
        date="2026-11-26",
        title=title,
        title_source="document",
        source=source,
        section_label=None,
        body=tuple(body),
        headline_groups=tuple(tuple(g) for g in (groups or [])),
    )


def test_summary_ends_at_a_sentence_within_the_limit() -> None:
    body = [
        "First sentence here. Second one is a bit longer than the first. Third.",
        "A new paragraph " + "word " * 80 + "ends.",
    ]
    s = summarize(body, 80)
    assert s == "First sentence here. Second one is a bit longer than the first. Third."
    assert summarize(body, 30) == "First sentence here."


def test_summary_of_one_overlong_or_cut_sentence_is_cut_at_a_word() -> None:
    s = summarize(["word " * 100], 300)
    assert len(s) <= 301 and s.endswith("…") and " wor…" not in s
    assert (
        summarize(["The body was cut in the middle of"], 300)
        == "The body was cut in the middle of…"
    )


def test_summary_does_not_split_after_abbreviations() -> None:
    text = "Dr. Ana Ruiz of the U.S. Navy spoke on Jan. 5 in Washington. Then more."
    assert sentences(text) == [
        "Dr. Ana Ruiz of the U.S. Navy spoke on Jan. 5 in Washington.",
        "Then more.",
    ]
    assert summarize([text], 65) == "Dr. Ana Ruiz of the U.S. Navy spoke on Jan. 5 in Washington."


def test_long_date() -> None:
    assert long_date("2026-11-26") == "Thursday 26 November 2026"
    assert long_date("2026-11") == "2026-11"


def test_compose_groups_in_config_order_and_dedupes_headlines(config: Config) -> None:
    docs = [
        doc(
            "IAEA reports uranium enrichment rise",
            ["Inspectors found more enriched uranium."],
            [
                ["Drone swarm tested over desert", "Patriot air defense unit arrives"],
                [
                    "Drone swarm tested over desert",
                    "Bakery wins prize",
                    "NATO summit opens in Vilnius",
                ],
            ],
        ),
        doc(
            "NATO summit opens in Vilnius",
            ["Leaders of the alliance met for talks."],
            [["Patriot air defense unit arrives", "IAEA reports uranium enrichment rise"]],
        ),
    ]
    d = compose("2026-11-26", docs, config)
    names = [s.name for s in d.sections]
    order = list(config.section_names)
    assert names == sorted(names, key=order.index)
    assert names[-1] == "More headlines"
    all_heads = [h for s in d.sections for h in s.headlines]
    assert len(all_heads) == len(set(all_heads)) == 3
    titles = {st.title for s in d.sections for st in s.stories}
    assert not titles & set(all_heads)  # a story's title is not repeated as a headline
    by_name = {s.name: s for s in d.sections}
    assert [st.title for st in by_name["Nuclear"].stories] == [
        "IAEA reports uranium enrichment rise"
    ]
    assert by_name["Drones and air power"].headlines == ("Drone swarm tested over desert",)
    assert by_name["More headlines"].headlines == ("Bakery wins prize",)
    assert d.subject.startswith("Defence & Space Daily, Thursday 26 November 2026: ")
    assert d.subject.endswith(d.sections[0].stories[0].title)
    assert d.preheader.startswith("2 stories, 3 headlines")


def test_json_shape(config: Config) -> None:
    d = compose("2026-11-26", [doc("Rocket launch succeeds", ["A rocket reached orbit."])], config)
    data = d.to_json()
    assert set(data) == {"date", "subject", "preheader", "sections", "headline_links"}
    assert set(data["sections"][0]) == {"name", "stories", "headlines"}
    assert set(data["sections"][0]["stories"][0]) == {"id", "title", "summary", "source"}


def test_a_day_without_stories_is_an_error(config: Config) -> None:
    with pytest.raises(ComposeError, match="no stories for 2026-11-26"):
        compose("2026-11-26", [], config)
