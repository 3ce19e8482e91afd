"""Line roles: furniture never reaches a body, headers in every order, datelines in every form,
and `digest ingest --explain`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.errors import DocumentError
from digest.ingest import fingerprint, parse_document
from digest.ingest.explain import explain
from digest.ingest.lines import dateline, parse_date
from digest.ingest.roles import assign

LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"

PARAGRAPHS = [
    "Engineers finished the second round of vibration tests on the probe this week, the agency "
    "said, clearing the way for shipment to the launch site.",
    "The probe will spend six years cruising to the outer planets before its instruments wake up.",
    "Mission managers said the schedule still has about a month of margin left.",
]

# Lines that belong to the page, never to an article: wherever they stand in the body.
FURNITURE = [
    "Subscribe free to our newsletters via your",
    "|Subscribe Free To Our Daily Newsletters",
    ". 24/7 Space News .",
    "Space Industry and Business News",
    "Space Industry and Business News   ",
    ". Military Space News, Nuclear Weapons, Missile Defense .",
    "SPACE WIRE",
    "SPACE.WIRE",
    "|",
    ".",
    ". | . |",
    "![]() |",
    "![]()",
    ". | ![]() |",
    "File Photo: A rocket on its pad.",
    "Caption: Technicians prepare the spacecraft.",
    "Illustration only",
    "Tweet",
    "Advertisement",
]


@pytest.mark.parametrize("line", FURNITURE)
@pytest.mark.parametrize("where", [0, 1, 2, 3])
def test_furniture_never_reaches_a_body(line: str, where: int) -> None:
    paras = [*PARAGRAPHS]
    paras.insert(where, line)
    text = " date 2025-04-01 " + "\n\n".join(paras) + "\n"
    doc = parse_document(text, "doc.txt")
    if len(line.strip()) > 2:  # "." and "|" are in any text; the equality below covers them
        assert not [p for p in doc.body if line.strip() in p]
    assert list(doc.body) == PARAGRAPHS


@pytest.mark.parametrize("line", FURNITURE)
def test_furniture_never_reaches_a_body_without_blank_lines(line: str) -> None:
    text = "\n".join([" date 2025-04-01 " + PARAGRAPHS[0], line, *PARAGRAPHS[1:]])
    assert list(parse_document(text, "doc.txt").body) == PARAGRAPHS


# Agency subheadings: kept between paragraphs (a story page shows them as headings), never
# before the first or after the last, and never part of what identifies or sums up a story.
SUBHEADINGS = ["- 'Difficult situation' -", "-- Next steps --"]


@pytest.mark.parametrize("line", SUBHEADINGS)
@pytest.mark.parametrize("where", [0, 1, 2, 3])
def test_a_subheading_stays_between_paragraphs_only(line: str, where: int) -> None:
    paras = [*PARAGRAPHS]
    paras.insert(where, line)
    doc = parse_document(" date 2025-04-01 " + "\n\n".join(paras) + "\n", "doc.txt")
    inside = 0 < where < len(PARAGRAPHS)
    assert list(doc.body) == (paras if inside else PARAGRAPHS)
    plain = parse_document(" date 2025-04-01 " + "\n\n".join(PARAGRAPHS) + "\n", "doc.txt")
    assert fingerprint(doc) == fingerprint(plain)  # the same story, with or without it


@pytest.mark.parametrize("line", SUBHEADINGS)
def test_a_subheading_without_blank_lines_is_a_line_of_its_own(line: str) -> None:
    text = "\n".join([" date 2025-04-01 " + PARAGRAPHS[0], line, *PARAGRAPHS[1:]])
    body = list(parse_document(text, "doc.txt").body)
    assert body == [PARAGRAPHS[0], line, *PARAGRAPHS[1:]]


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("Oct 16, 2003", "2003-10-16"),
        ("Oct. 25, 2000", "2000-10-25"),
        ("Sep 29, 2008", "2008-09-29"),
        ("Sept 5, 2003", "2003-09-05"),
        ("March 3, 2024", "2024-03-03"),
        ("December 1, 1999", "1999-12-01"),
        ("18 December 2002", "2002-12-18"),
        ("Jan. 4 2001", "2001-01-04"),
    ],
)
def test_dates_in_every_written_form(written: str, iso: str) -> None:
    assert parse_date(written) == iso


@pytest.mark.parametrize("words", ["Monday 25, 2000", "Foo 25, 2000", "Feb 30, 2001"])
def test_what_is_not_a_date(words: str) -> None:
    assert parse_date(words) is None


@pytest.mark.parametrize(
    ("line", "date", "rest"),
    [
        ("Sydney, Australia (SPX) Aug 03, 2009", "2009-08-03", ""),
        ("BEIJING (AFP) Oct 16, 2003", "2003-10-16", ""),
        ("EVRY, France (AFP) Dec 18, 2002", "2002-12-18", ""),
        ("Kyiv, Ukraine (AFP) March 3, 2024", "2024-03-03", ""),
        ("Perth - Oct. 25, 2000 This quiet reaction is", "2000-10-25", "This quiet reaction is"),
        (
            "image AFP/CCTV Perth - December 1, 1999 - Technically, no",
            "1999-12-01",
            "Technically, no",
        ),
        ("LIMA, Peru, May 2, 2021 (AFP) - Officials said", "2021-05-02", "Officials said"),
        ("Osaka (AFP) - Dec 08, 2003", "2003-12-08", ""),
    ],
)
def test_datelines(line: str, date: str, rest: str) -> None:
    found = dateline(line)
    assert found is not None
    assert (found.date, found.rest) == (date, rest)


@pytest.mark.parametrize(
    "line",
    [
        "The launch was set for Oct 16, 2003 but slipped.",
        "He said on Sunday (AFP) that nothing had changed since the first of the month.",
        "Officials met in Geneva on March 3 to discuss the plan.",
    ],
)
def test_a_sentence_with_a_date_is_no_dateline(line: str) -> None:
    assert dateline(line) is None


def test_a_long_title_and_its_dateline_stay_apart() -> None:
    """Joined, the dateline's date hides inside a "title" and the page has no date."""
    title = (
        "Regional agency weighs a second launch pad as demand for small satellite rides keeps "
        "growing across the continent"
    )
    text = f"SPACE WIRE\n{title}\nLISBON (AFP) Feb 2, 2004\n\n{PARAGRAPHS[0]}\n\nSPACE.WIRE\n"
    doc = parse_document(text, "wire.txt")
    assert (doc.title, doc.date, doc.source) == (title, "2004-02-02", "AFP")
    assert list(doc.body) == PARAGRAPHS[:1]


def test_a_pipe_row_before_the_body_does_not_start_the_tail() -> None:
    text = "|\n. | . |\n|\nPerth - Oct. 25, 2000 " + "\n".join(PARAGRAPHS) + "\n"
    doc = parse_document(text, "old.txt")
    assert list(doc.body) == PARAGRAPHS
    assert doc.date == "2000-10-25"


def test_a_pipe_row_inside_the_body_before_paragraphs_is_layout() -> None:
    text = " date 2025-04-01 " + "\n".join([PARAGRAPHS[0], "|", *PARAGRAPHS[1:]]) + "\n"
    assert list(parse_document(text, "doc.txt").body) == PARAGRAPHS


def test_a_pipe_row_after_the_body_starts_the_headlines() -> None:
    heads = ["Probe passes its last test before shipping", "Outer planet mission gets a name"]
    text = " date 2025-04-01 " + "\n".join([*PARAGRAPHS, "|", *heads]) + "\n"
    doc = parse_document(text, "doc.txt")
    assert list(doc.body) == PARAGRAPHS
    assert [h for g in doc.headline_groups for h in g] + [doc.title] == [heads[1], heads[0]]


@pytest.mark.parametrize(
    "hint",
    [
        "Learn about missile defense at SpaceWar.com",
        "All about missiles at SpaceWar.com",
        "Read the latest space tourism news at Space-Travel.com",
    ],
)
def test_topic_hint_lines_are_links_not_headlines(hint: str) -> None:
    heads = ["Probe passes its last test before shipping", "Ship yard wins a frigate order"]
    text = " date 2025-04-01 " + "\n".join([*PARAGRAPHS, "Related Links", hint, "|", *heads])
    doc = parse_document(text, "doc.txt")
    assert doc.related_links == (hint,)
    assert hint not in [h for g in doc.headline_groups for h in g]


def test_a_sentence_starting_with_by_is_no_byline() -> None:
    text = (
        ". 24/7 Space News .\nBy December the agency will have launched three more satellites\n"
        + "\n".join(PARAGRAPHS)
    )
    roles = {line.text: line.role for line in assign(text)}
    assert roles["By December the agency will have launched three more satellites"] != "byline"


def test_a_short_first_line_without_a_header_is_body() -> None:
    """No page furniture and no byline or dateline under it: the article's own first line."""
    text = " date 2025-04-01 Probe ships to the launch site\n" + "\n".join(PARAGRAPHS)
    doc = parse_document(text, "doc.txt")
    assert doc.body[0] == "Probe ships to the launch site"
    assert doc.title_source != "document"


def test_explain_names_each_lines_role() -> None:
    text = (LAYOUTS / "spacemart_2024.txt").read_text(encoding="utf-8")
    report, accepted = explain(text, "spacemart_2024.txt")
    assert accepted
    rows = {line.split()[0]: line.split()[1] for line in report[1:] if line.split()[0].isdigit()}
    assert rows == {
        "1": "furniture",
        "2": "label",
        "3": "title",
        "4": "repeat",
        "5": "byline",
        "6": "dateline",
        "8": "body",
        "10": "body",
        "12": "subheading",
        "14": "body",
        "16": "subheading",
        "18": "body",
        "20": "related",
        "21": "hint",
        "22": "separator",
        "23": "headline",
        "24": "headline",
        "25": "separator",
    }
    assert "title: Frontline towns brace as long-range strikes widen (from the page)" in report
    assert "date: 2024-03-03" in report


def explain_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *paths: Path) -> Result:
    monkeypatch.chdir(tmp_path)
    env = {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}"}
    args = ["ingest", "--explain", *map(str, paths)]
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_explain_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = explain_command(
        tmp_path, monkeypatch, LAYOUTS / "space_wire.txt", LAYOUTS / "teaser_photo.txt"
    )
    assert result.exit_code == 0, result.output
    assert "wire service mark" in result.output
    assert "source: AFP" in result.output
    assert "teaser      short line in the header" in result.output
    assert result.output.count("==> ") == 2
    assert not (tmp_path / "digest.db").exists()  # explains, stores nothing


def test_explain_command_says_why_a_page_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.txt"
    page.write_text("SPACE WIRE\n|\n.\n", encoding="utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01")
    result = explain_command(tmp_path, monkeypatch, page, binary)
    assert result.exit_code == 1
    assert "refused: no body text" in result.output
    assert "binary file" in result.output


def test_a_site_banner_naming_its_site_heads_the_page() -> None:
    text = (
        "Ocean News from ExampleDaily.com\nReef survey finds coral recovering in the north\n"
        "Perth, Australia (AFP) Oct 08, 2024\n" + "\n".join(PARAGRAPHS)
    )
    doc = parse_document(text, "page.txt")
    assert (doc.title, doc.date, doc.source) == (
        "Reef survey finds coral recovering in the north",
        "2024-10-08",
        "ExampleDaily.com",
    )
    assert list(doc.body) == PARAGRAPHS


def test_an_image_before_the_byline_and_dateline_is_left_out() -> None:
    text = (
        "![]() |\n. | ![]() |\n![]() by Staff Writers Perth, Australia (AFP) Aug 28, 2020\n"
        + "\n".join(PARAGRAPHS)
    )
    doc = parse_document(text, "page.txt")
    assert doc.date == "2020-08-28"
    assert list(doc.body) == PARAGRAPHS


@pytest.mark.parametrize(
    "first",
    [
        "Images taken by the rover show layered rock on the crater floor, which the science "
        "team says was laid down by a lake that dried out billions of years ago.",
        "Copyright holders of the mission's images agreed on Monday to release them into the "
        "public domain, the agency said, ending a dispute that had lasted two years.",
    ],
)
def test_an_articles_first_paragraph_about_images_is_body(first: str) -> None:
    doc = parse_document(" date 2025-04-01 " + "\n".join([first, *PARAGRAPHS]), "doc.txt")
    assert list(doc.body) == [first, *PARAGRAPHS]


def test_a_pipe_row_before_sentences_stays_in_the_body() -> None:
    tail = ["Its goals were not disclosed.", "The last mission lasted 908 days."]
    text = " date 2025-04-01 " + "\n".join([PARAGRAPHS[0], "|", *tail]) + "\n"
    doc = parse_document(text, "doc.txt")
    assert list(doc.body) == [PARAGRAPHS[0], *tail]
    assert doc.headline_groups == ()


@pytest.mark.parametrize("prefix", ["date 2024-13-45", "date 2024-02-30", "date 2024-13"])
def test_a_date_prefix_that_is_no_calendar_date_is_refused(prefix: str) -> None:
    with pytest.raises(DocumentError, match="not a calendar date"):
        parse_document(f" {prefix} " + "\n".join(PARAGRAPHS), "doc.txt")


def test_a_date_prefix_runs_to_a_space() -> None:
    """ "2024-03-011" is no date; its first seven characters are not a month."""
    with pytest.raises(DocumentError, match="no date"):
        parse_document(" date 2024-03-011 " + "\n".join(PARAGRAPHS), "doc.txt")
    assert parse_document(" date 2024-02-29 " + PARAGRAPHS[0], "doc.txt").date == "2024-02-29"
