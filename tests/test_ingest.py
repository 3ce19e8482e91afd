"""Parser tests: one per layout, from the project's own fixtures, plus the shared real sample."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from digest.errors import DocumentError
from digest.ingest import Parser, decode, fingerprint, parse_document, read_document
from digest.ingest.lines import without_subheadings
from digest.text import match_key

from .conftest import FIXTURES, SAMPLES, SHARED_SAMPLE

LAYOUTS = FIXTURES / "layouts"
CASES = sorted(p.name.removesuffix(".expected.json") for p in LAYOUTS.glob("*.expected.json"))


@pytest.mark.parametrize("name", CASES)
def test_layout_fixture(name: str) -> None:
    expected = json.loads((LAYOUTS / f"{name}.expected.json").read_text(encoding="utf-8"))
    doc, _ = read_document(LAYOUTS / f"{name}.txt")
    got = doc.to_json()
    if "title_startswith" in expected:
        assert got["title"].startswith(expected.pop("title_startswith"))
        assert got["title_source"] == "sentence"
        assert len(got["title"]) <= 100
    for key, value in expected.items():
        assert got[key] == value, f"{name}: {key}"


def test_there_is_a_fixture_for_every_layout() -> None:
    assert {
        "dated",
        "dated_month",
        "dated_page",
        "older",
        "older_afp",
        "very_old",
        "spacemart_2024",
        "space_wire",
        "teaser_photo",
        "byline_dateline_one_line",
        "byline_fifth_line",
        "inline_dateline",
        "aside_before_dateline",
        "headline_box_before_dateline",
        "site_banner_feed",
    } <= set(CASES)


OLDER = """Subscribe free to our newsletters via your
. 24/7 Space News .
.

.
DRAGON SPACE
Ferry Rocket Returns to Flight
by Dr Ida Marsh for SpaceDaily.com
Sydney, Australia (SPX) Jul 29, 2011

The ferry rocket flew again on Friday after a long pause.
It carried two small satellites.

Caption: The rocket on its pad.

Engineers said the fix worked.
"""


def test_older_layout_inline() -> None:
    doc = parse_document(OLDER, "older.txt")
    assert doc.date == "2011-07-29"
    assert doc.title == "Ferry Rocket Returns to Flight"
    assert doc.title_source == "document"
    assert doc.section_label == "DRAGON SPACE"
    assert doc.source == "SpaceDaily.com"
    assert doc.body == (
        "The ferry rocket flew again on Friday after a long pause. "
        "It carried two small satellites.",
        "Engineers said the fix worked.",
    )


VERY_OLD = (
    "Orbital Lab Plans Take Shape\n"
    "by Tom Reyes\n"
    " image AFP/CCTV Sydney - December 1, 1999 - Technically, the lab is China\ufffds first.\n"
    "illustration only\n"
    "![]() |\n"
    "![]() | ![]() |\n"
    "Caption: An artist\ufffds view of the lab.\n"
    "The crew of three will stay for a month.\n"
)


def test_very_old_layout_inline() -> None:
    doc = parse_document(VERY_OLD, "very_old.txt")
    assert doc.date == "1999-12-01"
    assert doc.title == "Orbital Lab Plans Take Shape"
    assert doc.body == (
        "Technically, the lab is China's first.",
        "The crew of three will stay for a month.",
    )


def test_month_precision_is_kept() -> None:
    doc = parse_document(" date 2019-03 The probe reached orbit. It sent data.\n", "m.txt")
    assert doc.date == "2019-03"
    assert doc.title_source == "sentence"
    assert doc.title == "The probe reached orbit"


def test_headline_groups_and_title_from_headlines() -> None:
    text = (
        " date 2024-05-02 The navy tested a new interceptor off the coast on Tuesday.\n"
        "The interceptor hit its target, the navy said.\n"
        "Related Links\n"
        "Learn about missile defense at SpaceWar.com\n"
        "|Subscribe Free To Our Daily Newsletters\n"
        "|\n"
        "Rover finds clay on Mars\n"
        "Navy interceptor hits target in coastal test\n"
        "|\n"
        "Drone makers merge\n"
        "|Subscribe Free To Our Daily Newsletters\n"
    )
    doc = parse_document(text, "x.txt")
    assert doc.title == "Navy interceptor hits target in coastal test"
    assert doc.title_source == "headline"
    assert doc.source == "SpaceWar.com"
    assert doc.related_links == ("Learn about missile defense at SpaceWar.com",)
    assert doc.headline_groups == (("Rover finds clay on Mars",), ("Drone makers merge",))


def test_real_shared_sample() -> None:
    if not SHARED_SAMPLE.exists():
        pytest.skip("shared sample not present")
    doc, _ = read_document(SHARED_SAMPLE)
    assert doc.date == "2023-01-31"
    assert doc.title == "Japan and NATO pledge 'firm' response to China, Russia threats"
    assert doc.title_source == "headline"
    assert doc.source == "SpaceWar.com"
    assert len(doc.body) == 14
    assert doc.body[0].startswith("Stoltenberg, secretary general")
    assert [len(g) for g in doc.headline_groups] == [16, 11]
    assert all(doc.title not in g for g in doc.headline_groups)
    assert len(doc.related_links) == 2


def test_syndicated_copies_share_a_fingerprint() -> None:
    a = parse_document(OLDER, "a.txt")
    sister = OLDER.replace(". 24/7 Space News .", ". Space Industry and Business News .")
    b = parse_document(sister.replace(" for SpaceDaily.com", ""), "b.txt")
    assert (a.source, b.source) == ("SpaceDaily.com", "SpaceMart.com")
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(parse_document(VERY_OLD, "c.txt"))


def test_ingest_fingerprints_are_the_bodys_words_hashed() -> None:
    """The fingerprint the ingest path computes from words it already has is the documented
    one (stored fingerprints must match across versions, or syndicated copies slip in)."""
    files = [*LAYOUTS.glob("*.txt"), *SAMPLES.glob("*.txt")]
    files += [SHARED_SAMPLE] if SHARED_SAMPLE.exists() else []  # CI has ../shared; a clone may not
    jobs = [(str(p), p.read_bytes(), "2020-01-01") for p in sorted(files)]
    results = Parser(len(jobs)).submit(jobs)()
    assert len(results) == len(files) > 20
    for (path, _, _), parsed in zip(jobs, results, strict=True):
        assert not isinstance(parsed, DocumentError), parsed
        doc, print_ = parsed
        words = match_key(" ".join(without_subheadings(doc.body)))
        expected = hashlib.sha256(words.encode("utf-8")).hexdigest()
        assert print_ == expected == fingerprint(doc), path


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"   \n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"caf\xe9 \xff au lait", "not valid UTF-8"),
    ],
)
def test_bad_bytes_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(DocumentError, match=reason) as info:
        decode(data, "bad.txt")
    assert str(info.value).startswith("bad.txt")


def test_no_body_is_refused() -> None:
    text = " date 2020-01-01 \nRelated Links\nLearn about space at SpaceDaily.com\n|\nA headline\n"
    with pytest.raises(DocumentError, match="no body"):
        parse_document(text, "nobody.txt")


def test_undated_is_refused_unless_a_date_is_given(tmp_path: Path) -> None:
    text = "Just a paragraph of text with no date anywhere.\n"
    with pytest.raises(DocumentError, match="no date"):
        parse_document(text, "undated.txt")
    assert parse_document(text, "undated.txt", default_date="2020-02-02").date == "2020-02-02"
    assert parse_document(text, "2021-03-04_site_slug.txt").date == "2021-03-04"
