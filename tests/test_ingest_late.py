"""Late stories and the inbox (issue 12), through the command line, and migration 0004, on
SQLite and PostgreSQL. The documents and helpers are test_ingest_updates.py's."""

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
from digest.jobs import daily
from digest.jobs.ingest import IngestReport
from digest.store import Store
from digest.store.migrate import _config, head

from .test_ingest_updates import (
    CRANES,
    DAY,
    NEXT_DAY,
    PAD,
    ROVER,
    ROVER_FIXED,
    counts,
    ingest,
    parsed,
    stories,
    write,
)

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
        daily.run(store, cfg, DAY)
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
