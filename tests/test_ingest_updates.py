"""Corrections, near-duplicates and late stories (issue 12), on SQLite and PostgreSQL.

A corrected version of a story (the same file changed, or the same day and title) replaces it;
a shorter capture of an article is a duplicate and a fuller one replaces it; different days
never merge; a story for a day whose digest was already sent is stored with a warning; and
`digest run` refuses an inbox folder that is not there. The documents are this file's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from digest.ingest import parse_document
from digest.jobs import ingest as ingest_jobs
from digest.jobs.ingest import IngestReport
from digest.model import Document
from digest.store import Store
from digest.text import match_key

DAY = "2026-03-02"
NEXT_DAY = "2026-03-03"

ROVER = [
    "Engineers from the Meridian Rover Group drove a prototype lunar rover across forty "
    "kilometres of volcanic desert in northern Chile this week, the longest unbroken trial "
    "the team has attempted.",
    "The six-wheeled vehicle steered itself for most of the route, stopping only when its "
    "cameras lost sight of the horizon during a dust storm on the second afternoon.",
    "\u201cWe wanted to see how the software copes when the ground looks the same in every "
    "direction,\u201d said Tomasz Werner, the group's chief engineer. \u201cIt coped better "
    "than we feared.\u201d",
    "The rover carries a drill able to reach two metres below the surface, which the team "
    "used twice to collect samples of frozen soil near a salt flat.",
    "A second trial, planned for March, will test how the batteries behave after a fortnight "
    "of cold nights.",
]
# The same article corrected: two facts fixed, the last paragraph dropped.
ROVER_FIXED = [
    ROVER[0].replace("forty kilometres", "forty-two kilometres"),
    ROVER[1],
    ROVER[2],
    ROVER[3].replace("used twice", "used three times"),
]
HEADS = [
    "Prototype lunar rover completes long desert trial",
    "Harbour cranes idle as dock workers strike",
    "New weather satellite sends first images",
]
CRANES = [
    "Container cranes at the port of Valmere stood idle on Monday as dock workers began a "
    "two-day strike over night-shift pay, leaving a dozen ships waiting offshore.",
    "The port authority said perishable cargo would be moved by hand where possible, and "
    "that talks with the union would resume on Wednesday morning.",
]
# Two unrelated stories whose best related headline is the same generic one.
GENERIC = "Launch news from the spaceport"
WIND = [
    "Strong crosswinds forced controllers at the Kestrel Point spaceport to call off a launch "
    "of a small weather satellite minutes before lift-off on Monday.",
    "The rocket will stand on the pad until the wind drops, which forecasters expect by the "
    "end of the week.",
]
PAD = [
    "A new launch pad built for reusable boosters opened at the Kestrel Point spaceport, "
    "doubling the number of flights the site can handle each month.",
    "Its flame trench was dug deeper than the old one so that boosters can land beside it "
    "and be refuelled without being moved.",
]


def doc(date: str, paragraphs: list[str], heads: list[str] | None = None) -> str:
    """A document in the dated layout: the date, the body, then related headlines."""
    body = f" date {date} " + "\n".join(paragraphs) + "\n"
    heads = HEADS if heads is None else heads
    if heads:
        body += "Related Links\nMore at OrbitWire.example\n|\n" + "\n".join(heads) + "\n"
    return body


def write(path: Path, date: str, paragraphs: list[str], heads: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc(date, paragraphs, heads), encoding="utf-8")
    return path


def ingest(store: Store, *paths: Path) -> IngestReport:
    return ingest_jobs.ingest(store, list(paths))


def counts(report: IngestReport) -> tuple[int, int, int, int]:
    return report.stored, report.replaced, report.duplicates, len(report.refused)


def stories(store: Store, day: str = DAY) -> list[Document]:
    return store.documents_for(day)


def parsed(date: str, paragraphs: list[str], heads: list[str] | None = None) -> Document:
    return parse_document(doc(date, paragraphs, heads), "expected.txt")


# ---- corrections ---------------------------------------------------------------------------


def test_a_corrected_file_at_the_same_path_replaces_its_story(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "in" / "rover.txt", DAY, ROVER)
    assert counts(ingest(store, path)) == (1, 0, 0, 0)
    new_heads = [*HEADS[:2], "Weather satellite's first images show a cyclone"]
    write(path, DAY, ROVER_FIXED, new_heads)

    assert counts(ingest(store, path)) == (0, 1, 0, 0)
    assert stories(store) == [parsed(DAY, ROVER_FIXED, new_heads)]
    assert store.story_days() == [(DAY, 1)]


def test_a_file_changed_only_in_its_headlines_replaces_its_story(
    store: Store, tmp_path: Path
) -> None:
    """The same body from the same file: the file was corrected around it."""
    path = write(tmp_path / "rover.txt", DAY, ROVER)
    ingest(store, path)
    new_heads = [HEADS[0], "Dock strike ends after pay deal"]
    write(path, DAY, ROVER, new_heads)

    assert counts(ingest(store, path)) == (0, 1, 0, 0)
    assert [s.headline_groups for s in stories(store)] == [
        parsed(DAY, ROVER, new_heads).headline_groups
    ]


def test_the_same_day_and_title_from_another_file_replaces_the_story(
    store: Store, tmp_path: Path
) -> None:
    """A correction is shorter here, and not the original's beginning: it still wins."""
    ingest(store, write(tmp_path / "site-a" / "rover.txt", DAY, ROVER))
    assert parsed(DAY, ROVER).title == parsed(DAY, ROVER_FIXED).title == HEADS[0]

    report = ingest(store, write(tmp_path / "site-a" / "rover-updated.txt", DAY, ROVER_FIXED))

    assert counts(report) == (0, 1, 0, 0)
    assert [s.body for s in stories(store)] == [tuple(ROVER_FIXED)]


def test_titles_compare_without_case_or_accents(store: Store, tmp_path: Path) -> None:
    """As digest.text.match_key compares them: a correction under a recased title replaces."""
    ingest(store, write(tmp_path / "rover.txt", DAY, ROVER))
    heads = ["PROTOTYPE lunar rover completes long d\u00e9sert trial", *HEADS[1:]]
    title = parsed(DAY, ROVER_FIXED, heads).title
    assert title != HEADS[0] and match_key(title) == match_key(HEADS[0])

    report = ingest(store, write(tmp_path / "rover-fixed.txt", DAY, ROVER_FIXED, heads))

    assert counts(report) == (0, 1, 0, 0)
    assert [(s.title, s.body) for s in stories(store)] == [(title, tuple(ROVER_FIXED))]


def test_stories_under_one_generic_title_stay_apart_and_each_takes_its_correction(
    store: Store, tmp_path: Path
) -> None:
    heads = [GENERIC, "Harbour cranes idle as dock workers strike"]
    assert parsed(DAY, WIND, heads).title == parsed(DAY, PAD, heads).title == GENERIC
    wind = write(tmp_path / "wind.txt", DAY, WIND, heads)
    pad = write(tmp_path / "pad.txt", DAY, PAD, heads)
    assert counts(ingest(store, wind, pad)) == (2, 0, 0, 0)

    fixed = [PAD[0].replace("doubling", "tripling"), PAD[1]]
    report = ingest(store, write(tmp_path / "pad-fixed.txt", DAY, fixed, heads))

    assert counts(report) == (0, 1, 0, 0)
    assert [s.body for s in stories(store)] == [tuple(WIND), tuple(fixed)]


# ---- shorter and fuller captures -----------------------------------------------------------


def test_a_shorter_capture_is_a_duplicate_and_the_fuller_text_stays(
    store: Store, tmp_path: Path
) -> None:
    ingest(store, write(tmp_path / "full.txt", DAY, ROVER))
    prefix = write(tmp_path / "first-three.txt", DAY, ROVER[:3])
    cut = write(tmp_path / "cut.txt", DAY, [ROVER[0], ROVER[1][:78]])  # ends mid-word
    assert cut.read_text(encoding="utf-8").split("\n")[1].endswith("stopping only wh")

    assert counts(ingest(store, prefix, cut)) == (0, 0, 2, 0)
    assert [s.body for s in stories(store)] == [tuple(ROVER)]


def test_the_fuller_capture_arriving_second_replaces_the_shorter(
    store: Store, tmp_path: Path
) -> None:
    ingest(store, write(tmp_path / "first-two.txt", DAY, ROVER[:2]))

    assert counts(ingest(store, write(tmp_path / "full.txt", DAY, ROVER))) == (0, 1, 0, 0)
    assert stories(store) == [parsed(DAY, ROVER)]


@pytest.mark.parametrize(("first", "second"), [("a.txt", "b.txt"), ("b.txt", "a.txt")])
def test_captures_in_one_batch_keep_the_fuller_text_whichever_comes_first(
    store: Store, tmp_path: Path, first: str, second: str
) -> None:
    """Files are read in name order: the short capture first, or the full text first."""
    write(tmp_path / "in" / first, DAY, ROVER[:2])
    write(tmp_path / "in" / second, DAY, ROVER)
    expected = (1, 1, 0, 0) if first == "a.txt" else (1, 0, 1, 0)

    assert counts(ingest(store, tmp_path / "in")) == expected
    assert [s.body for s in stories(store)] == [tuple(ROVER)]


def test_a_nearly_identical_capture_under_another_title_keeps_the_fuller_text(
    store: Store, tmp_path: Path
) -> None:
    """Another site's copy: other headlines (so another title), a word changed, the last
    paragraph missing, its own line at the end. Shorter: a duplicate. Fuller: it replaces."""
    other_heads = ["Dock strike ends after pay deal"]
    copy = [ROVER[0], ROVER[1].replace("steered itself", "drove itself"), *ROVER[2:4]]
    copy.append("Read more stories like this one at OrbitWire.")
    assert parsed(DAY, copy, other_heads).title != parsed(DAY, ROVER).title
    ingest(store, write(tmp_path / "full.txt", DAY, ROVER))

    report = ingest(store, write(tmp_path / "copy.txt", DAY, copy, other_heads))
    assert counts(report) == (0, 0, 1, 0)
    assert [s.body for s in stories(store)] == [tuple(ROVER)]

    fuller = [*ROVER[:4], ROVER[4], "The team will publish its findings in the spring."]
    fuller[1] = copy[1]
    report = ingest(store, write(tmp_path / "fuller.txt", DAY, fuller, other_heads))
    assert counts(report) == (0, 1, 0, 0)
    assert [s.body for s in stories(store)] == [tuple(fuller)]


def test_different_days_never_merge(store: Store, tmp_path: Path) -> None:
    """A capture under the same title, or the same file name, for another day is another
    day's story; for the same day the capture is a duplicate."""
    path = write(tmp_path / "rover.txt", DAY, ROVER)
    ingest(store, path)
    same_day = write(tmp_path / "capture.txt", DAY, ROVER[:3])
    next_day = write(tmp_path / "capture-next.txt", NEXT_DAY, ROVER[:3])
    assert counts(ingest(store, same_day, next_day)) == (1, 0, 1, 0)
    write(path, NEXT_DAY, CRANES, [])  # the file name used again the next day

    assert counts(ingest(store, path)) == (1, 0, 0, 0)
    assert [s.body for s in stories(store, DAY)] == [tuple(ROVER)]
    assert [s.body for s in stories(store, NEXT_DAY)] == [tuple(ROVER[:3]), tuple(CRANES)]


def test_a_correction_the_database_refuses_is_refused_alone(store: Store, tmp_path: Path) -> None:
    """Whatever the database refuses (here a trigger), the stored story stays as it was and
    the rest of the batch goes in."""
    with store.engine.begin() as conn:
        if store.is_sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_fix BEFORE UPDATE ON stories "
                    "WHEN NEW.body LIKE '%three times%' "
                    "BEGIN SELECT RAISE(ABORT, 'no corrections today'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_fix() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.body::text LIKE '%three times%' THEN RAISE EXCEPTION "
                    "'no corrections today' USING ERRCODE = 'check_violation'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_fix BEFORE UPDATE ON stories "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_fix()"
                )
            )
    path = write(tmp_path / "rover.txt", DAY, ROVER)
    ingest(store, path)
    write(path, DAY, ROVER_FIXED)
    cranes = write(tmp_path / "cranes.txt", DAY, CRANES, [])

    report = ingest(store, path, cranes)

    assert counts(report) == (1, 0, 0, 1)
    assert report.refused[0].path == str(path)
    assert "no corrections today" in report.refused[0].reason
    assert [s.body for s in stories(store)] == [tuple(ROVER), tuple(CRANES)]


def test_an_older_version_arriving_after_its_correction_is_a_duplicate(
    store: Store, tmp_path: Path
) -> None:
    """A copy of the text a correction replaced (a sister site's, a late mirror) never puts
    the old text back, in a later run or later in the same batch."""
    ingest(store, write(tmp_path / "site-a" / "rover.txt", DAY, ROVER))
    ingest(store, write(tmp_path / "site-a" / "rover-updated.txt", DAY, ROVER_FIXED))
    late_copy = write(tmp_path / "site-b" / "rover.txt", DAY, ROVER, [HEADS[0], HEADS[2]])

    assert counts(ingest(store, late_copy)) == (0, 0, 1, 0)
    assert [s.body for s in stories(store)] == [tuple(ROVER_FIXED)]

    wind_fixed = [WIND[0].replace("on Monday", "on Tuesday"), WIND[1]]
    batch = [
        write(tmp_path / "c" / "1.txt", NEXT_DAY, WIND, [GENERIC]),
        write(tmp_path / "c" / "2.txt", NEXT_DAY, wind_fixed, [GENERIC]),
        write(tmp_path / "c" / "3.txt", NEXT_DAY, WIND, [GENERIC, HEADS[1]]),
    ]
    assert counts(ingest(store, *batch)) == (1, 1, 1, 0)
    assert [s.body for s in stories(store, NEXT_DAY)] == [tuple(wind_fixed)]


def test_stories_under_one_title_sharing_a_background_paragraph_stay_apart(
    store: Store, tmp_path: Path
) -> None:
    """Agency copy ends many stories with the same background paragraph: two short stories
    under one generic title that share it are still two stories."""
    background = (
        "The spaceport, opened in 2019, is run by a consortium of three regional governments "
        "and has hosted eleven launches of small rockets so far."
    )
    ingest(store, write(tmp_path / "a.txt", DAY, [*WIND, background], [GENERIC]))
    report = ingest(store, write(tmp_path / "b.txt", DAY, [PAD[0], background], [GENERIC]))

    assert counts(report) == (1, 0, 0, 0)
    assert sorted(s.body[0] for s in stories(store)) == sorted([WIND[0], PAD[0]])
