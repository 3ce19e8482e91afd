"""Corrections, near-duplicates and late stories (issue 12), on SQLite and PostgreSQL.

A corrected version of a story (the same file changed, or the same day and title) replaces it;
a shorter capture of an article is a duplicate and a fuller one replaces it; different days
never merge; a story for a day whose digest was already sent is stored with a warning; and
`digest run` refuses an inbox folder that is not there. The documents are this file's own.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, text

from digest.cli import cli
from digest.config import Config
from digest.errors import ConfigError
from digest.ingest import parse_document
from digest.jobs import ingest as ingest_jobs
from digest.jobs import sending
from digest.jobs.ingest import IngestReport
from digest.model import Document
from digest.store import Store
from digest.store.migrate import _config, head
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


# ---- late stories and the inbox, through the command line ------------------------------------


Invoke = Callable[..., Result]


@pytest.fixture
def invoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> tuple[Invoke, Path]:
    """The CLI on the test database, with an inbox folder; and that folder."""
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
        "DIGEST_INBOX": str(inbox),
    }

    def run(*args: str, **more_env: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={**env, **more_env})

    return run, inbox


def send_day(run: Invoke, inbox: Path) -> None:
    """The day's digest composed and sent (to the outbox) by `digest run`."""
    write(inbox / "rover.txt", DAY, ROVER)
    assert run("subscribers", "add", "reader@example.com").exit_code == 0
    r = run("run", "--date", DAY)
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output and "1 sent" in r.stdout


def warnings(r: Result) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("warning:")]


def test_digest_ingest_stores_a_late_story_and_warns(
    invoke: tuple[Invoke, Path], tmp_path: Path, database_url: str
) -> None:
    run, inbox = invoke
    send_day(run, inbox)
    cranes = write(tmp_path / "late" / "cranes.txt", DAY, CRANES, [])
    fixed = write(tmp_path / "late" / "rover-fixed.txt", DAY, ROVER_FIXED)
    write(tmp_path / "late" / "tomorrow.txt", NEXT_DAY, PAD, [])

    r = run("ingest", str(tmp_path / "late"))

    assert r.exit_code == 0, r.output
    assert warnings(r) == [
        f"warning: 2 stories (1 of them a correction) for {DAY} arrived after that day's "
        f"digest was sent; they will not go out by themselves: {cranes}, {fixed}"
    ]
    assert r.stdout == "ingest: 2 stored, 1 replaced, 0 duplicates skipped, 0 refused\n"
    store = Store(database_url)
    try:
        assert [s.body for s in stories(store)] == [tuple(ROVER_FIXED), tuple(CRANES)]
    finally:
        store.close()


def test_digest_run_stores_a_late_story_from_the_inbox_and_warns(
    invoke: tuple[Invoke, Path],
) -> None:
    run, inbox = invoke
    send_day(run, inbox)
    cranes = write(inbox / "cranes.txt", DAY, CRANES, [])

    r = run("run", "--date", DAY)

    assert r.exit_code == 0, r.output
    assert warnings(r) == [
        f"warning: 1 story for {DAY} arrived after that day's digest was sent; it will not "
        f"go out by itself: {cranes}"
    ]
    assert "ingest: 1 stored, 0 replaced, 1 duplicates skipped, 0 refused" in r.stdout
    again = run("run", "--date", DAY)  # nothing new: nothing to warn of
    assert again.exit_code == 0 and warnings(again) == []


def test_digest_run_with_no_inbox_folder_is_an_error(
    invoke: tuple[Invoke, Path], tmp_path: Path
) -> None:
    """Not a quiet "0 stored": the day has stories, so the run would otherwise send."""
    run, inbox = invoke
    assert run("ingest", str(write(tmp_path / "rover.txt", DAY, ROVER))).exit_code == 0
    assert run("subscribers", "add", "reader@example.com").exit_code == 0
    missing = tmp_path / "inbx"
    a_file = write(inbox / "rover.txt", DAY, ROVER)

    for where, what in ((missing, "does not exist"), (a_file, "is not a folder")):
        r = run("run", "--date", DAY, DIGEST_INBOX=str(where))
        assert r.exit_code == 2
        assert r.stdout == ""
        assert r.stderr == (
            f"error: inbox: {where} {what}; create it, or set inbox (DIGEST_INBOX) to the "
            "folder where story documents arrive\n"
        )
    assert not (tmp_path / "outbox" / DAY).exists()


def test_the_cron_job_refuses_a_missing_inbox_before_anything_else(
    store: Store, config: Config, tmp_path: Path
) -> None:
    cfg = dataclasses.replace(config, inbox=tmp_path / "nowhere", lock_file=tmp_path / "x.lock")
    with pytest.raises(ConfigError, match="DIGEST_INBOX"):
        sending.run(store, cfg, DAY)
    assert not (tmp_path / "x.lock").exists() and store.story_days() == []


# ---- the migration -------------------------------------------------------------------------


def test_stories_stored_before_0004_are_found_by_their_keys(
    database_url: str, tmp_path: Path
) -> None:
    """Upgraded from 0003, an old story gets its keys: its corrected file replaces it, and a
    shorter capture of it is a duplicate. The upgrade also goes back and forth."""
    path = write(tmp_path / "rover.txt", DAY, ROVER)
    old = parsed(DAY, ROVER)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0003")
        conn.execute(
            text(
                "INSERT INTO stories (fingerprint, date, title, title_source, body, "
                "related_links, headline_groups, path, ingested_at) VALUES ('f' || :n, :d, "
                ":t, 'headline', :b, '[]', '[]', :p, '2026-03-02 06:00:00')"
            ),
            {"n": "0" * 63, "d": DAY, "t": old.title, "b": json.dumps(old.body), "p": str(path)},
        )
        conn.execute(
            text(
                "INSERT INTO ingested_files (sha256, path, story_id, ingested_at) "
                "SELECT :sha, path, id, ingested_at FROM stories"
            ),
            {"sha": "e" * 64},
        )
    r = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": database_url})
    assert r.output.strip() == f"db: 0003 -> {head()}"
    with engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("stories")}
        assert {"ix_stories_date_lead", "ix_stories_date_title_key"} <= names
        assert "ix_stories_date" not in names
        # Each file's body fingerprint, filled in from its story.
        assert conn.execute(text("SELECT fingerprint FROM ingested_files")).scalar_one() == (
            "f" + "0" * 63
        )
    engine.dispose()

    store = Store(database_url)
    try:
        capture = write(tmp_path / "capture.txt", DAY, ROVER[:2])
        assert counts(ingest(store, capture)) == (0, 0, 1, 0)
        write(path, DAY, ROVER_FIXED)
        assert counts(ingest(store, path)) == (0, 1, 0, 0)
        assert [s.body for s in stories(store)] == [tuple(ROVER_FIXED)]
        with store.engine.begin() as conn:
            command.downgrade(_config(conn), "0003")
            assert "lead" not in {c["name"] for c in inspect(conn).get_columns("stories")}
            files = {c["name"] for c in inspect(conn).get_columns("ingested_files")}
            assert "fingerprint" not in files
            command.upgrade(_config(conn), "head")
    finally:
        store.close()


def test_a_late_warning_names_ten_files_and_counts_the_rest() -> None:
    late = [(f"inbox/f{i}.txt", i == 3) for i in range(12)]
    report = IngestReport(stored=11, replaced=1, late={DAY: late})
    shown = ", ".join(f"inbox/f{i}.txt" for i in range(10))
    assert report.warnings == [
        f"warning: 12 stories (1 of them a correction) for {DAY} arrived after that day's "
        f"digest was sent; they will not go out by themselves: {shown} and 2 more"
    ]
    assert report.summary == "11 stored, 1 replaced, 0 duplicates skipped, 0 refused"


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
