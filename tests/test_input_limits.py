"""Hostile input at ingest (issue 11, items 15 and 16): a NUL byte deep in a page, a document
the database refuses, oversized documents, and FIFOs and devices named as documents.

Each refused document is refused alone, with one line naming it; the good ones still go in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from digest.errors import DocumentError
from digest.ingest import decode, parse_document
from digest.jobs import ingest as ingest_jobs
from digest.store import Refused, Store

from .conftest import ROOT

GOOD = 300
PARAGRAPH = (
    "The ferry rocket number {n} flew again on Friday after a long pause in the launch "
    "programme, engineers at the spaceport said. "
)


def story(n: int, headline: str | None = None, pad: int = 1) -> str:
    """A dated document whose related headline becomes its title; `pad` repeats the body so
    that the tail starts past the first 8 KB. Each n is its own story, title included: two
    documents of one day under one title would be versions of one story."""
    body = "\n".join([PARAGRAPH.format(n=n) * 8] * pad)
    headline = headline or f"Ferry rocket {n} flies again after a pause"
    return (
        f" date 2026-11-26 \n{body}\nRelated Links\nLearn about space at SpaceDaily.com\n|\n"
        f"{headline}\nA headline about something else entirely\n"
    )


def write_good(folder: Path, count: int = GOOD) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"good{n:03d}.txt").write_text(story(n), encoding="utf-8")


def stored_titles(store: Store) -> list[str]:
    return [d.title for d in store.documents_for("2026-11-26")]


# ---- item 15: a NUL byte after the first 8 KB ---------------------------------------------

NUL_STORY = story(9999, headline="Ferry rocket flies\x00 again after a pause", pad=12)


def test_the_nul_story_would_carry_its_nul_into_the_title() -> None:
    """The test document is what the issue describes: the NUL is past 8 KB and the headline
    holding it becomes the title, when nothing refuses it first."""
    data = NUL_STORY.encode()
    assert data.index(b"\x00") > 8192
    doc = parse_document(NUL_STORY, "nul.txt")
    assert "\x00" in doc.title and doc.title_source == "headline"


def test_nul_anywhere_is_refused_by_decode() -> None:
    with pytest.raises(DocumentError, match="NUL") as info:
        decode(NUL_STORY.encode(), "nul.txt")
    assert str(info.value) == "nul.txt: binary file (contains NUL bytes)"


def test_nul_after_8kb_is_refused_and_the_good_files_are_stored(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_good(folder)
    bad = folder / "good150-nul.txt"  # sorted among the good ones, in the same batch
    bad.write_text(NUL_STORY, encoding="utf-8")

    report = ingest_jobs.ingest(store, [folder])

    assert report.stored == GOOD
    assert [(e.path, e.reason) for e in report.refused] == [
        (str(bad), "binary file (contains NUL bytes)")
    ]
    assert len(stored_titles(store)) == GOOD
    assert not any("\x00" in t for t in stored_titles(store))


def test_a_document_the_database_refuses_is_refused_alone(store: Store, tmp_path: Path) -> None:
    """Whatever the database refuses (here a trigger, standing for any constraint), only that
    document is left out, with a one-line reason naming its file; the rest of its batch, a
    duplicate inside the batch among them, is stored."""
    with store.engine.begin() as conn:
        if store.is_sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON stories "
                    "WHEN NEW.title LIKE '%poison%' "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned title'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.title LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned title' "
                    "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON stories "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
    folder = tmp_path / "docs"
    write_good(folder)
    bad = folder / "good100-poison.txt"
    bad.write_text(story(5000, headline="Ferry rocket poison flies again"), encoding="utf-8")
    # The same story as good007 (same body, another tagline): a duplicate, not a new story.
    copy = folder / "good200-copy.txt"
    copy.write_text(story(7).replace("SpaceDaily.com", "SpaceWar.com"), encoding="utf-8")

    report = ingest_jobs.ingest(store, [folder])

    assert report.stored == GOOD
    assert report.duplicates == 1
    assert len(report.refused) == 1
    refused = report.refused[0]
    assert refused.path == str(bad)
    assert refused.reason.startswith("refused by the database: ")
    assert "poisoned title" in refused.reason and "\n" not in str(refused)
    assert len(stored_titles(store)) == GOOD
    # Every stored file is recorded, so the next run skips them, and retries only the bad one.
    again = ingest_jobs.ingest(store, [folder])
    assert (again.stored, again.duplicates, len(again.refused)) == (0, GOOD + 1, 1)


def test_postgresql_refuses_a_nul_in_a_title_alone(store: Store) -> None:
    """Straight to the store, past decode: a NUL in a title is what PostgreSQL refuses (SQLite
    stores it). Either way the other documents of the batch are stored."""
    docs = [
        (parse_document(story(n), f"d{n}.txt"), f"{n:064d}", f"d{n}.txt", f"{n:064x}")
        for n in range(5)
    ]
    nul = parse_document(NUL_STORY, "nul.txt")
    items = [*docs[:2], (nul, "f" * 64, "nul.txt", "e" * 64), *docs[2:]]

    results = store.add_documents(items)

    assert results[:2] + results[3:] == ["stored"] * 5
    if store.is_sqlite:
        assert results[2] == "stored"
    else:
        assert isinstance(results[2], Refused) and "NUL" in results[2].reason
    assert len(stored_titles(store)) == (6 if store.is_sqlite else 5)


# ---- item 16: size limit and what is not a regular file -----------------------------------


def test_an_oversized_file_is_refused_without_being_opened(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    write_good(folder, 20)
    big = folder / "big.txt"
    with big.open("wb") as fh:  # sparse: 60 MB that take no disk and are never read
        fh.truncate(60_000_000)
    opened: list[str] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], *args: int, **kwargs: int) -> int:
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)

    report = ingest_jobs.ingest(store, [folder])

    assert report.stored == 20
    assert [str(e) for e in report.refused] == [
        f"{big}: too large (60,000,000 bytes; max_document_bytes is 5,000,000)"
    ]
    assert str(big) not in opened
    # the good ones were read through the same function
    assert len([p for p in opened if p.startswith(str(folder))]) == 20


def test_the_size_limit_is_a_setting(store: Store, tmp_path: Path) -> None:
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text(story(1), encoding="utf-8")
    large.write_text(story(2, pad=3), encoding="utf-8")
    limit = small.stat().st_size + 10
    assert large.stat().st_size > limit

    report = ingest_jobs.ingest(store, [small, large], max_bytes=limit)
    assert report.stored == 1
    assert [e.path for e in report.refused] == [str(large)]
    assert "too large" in report.refused[0].reason

    docs, errors = ingest_jobs.parse_paths([small, large], max_bytes=limit)
    assert len(docs) == 1 and [e.path for e in errors] == [str(large)]


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    # /proc files say they are empty and are not: what is read is counted, not the stat.
    from digest.ingest import read_file  # new with the size limit

    status = Path(f"/proc/{os.getpid()}/status")
    assert read_file(status, 100_000).startswith(b"Name:")
    with pytest.raises(DocumentError, match="too large"):
        read_file(status, 100)


def digest_ingest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `digest ingest` in its own process: a hang fails the test, not the suite."""
    env = {
        **os.environ,
        "DIGEST_DATABASE_URL": f"sqlite:///{cwd / 'digest.db'}",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "digest", "ingest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_fifo_named_on_the_command_line_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "story.txt"
    os.mkfifo(fifo)
    good = tmp_path / "good.txt"
    good.write_text(story(1), encoding="utf-8")

    r = digest_ingest(tmp_path, str(fifo), "/dev/null", str(good))

    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        f"refused: {fifo}: not a regular file (a FIFO)",
        "refused: /dev/null: not a regular file (a character device)",
    ]
    assert r.stdout.strip() == "ingest: 1 stored, 0 replaced, 0 duplicates skipped, 2 refused"


def test_a_fifo_in_a_folder_is_refused_and_the_rest_stored(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    write_good(folder, 3)
    fifo = folder / "sub" / "pipe.txt"
    fifo.parent.mkdir()
    os.mkfifo(fifo)

    r = digest_ingest(tmp_path, str(folder))

    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.splitlines() == [f"refused: {fifo}: not a regular file (a FIFO)"]
    assert r.stdout.strip() == "ingest: 3 stored, 0 replaced, 0 duplicates skipped, 1 refused"


@pytest.mark.parametrize("command", ["ingest", "run"])
def test_the_configured_limit_is_the_one_the_commands_use(tmp_path: Path, command: str) -> None:
    """DIGEST_MAX_DOCUMENT_BYTES reaches `digest ingest` and the cron job's inbox."""
    folder = tmp_path / "inbox"
    write_good(folder, 2)
    big = folder / "big.txt"
    big.write_text(story(9) + "\n" + "More words. " * 300, encoding="utf-8")
    size = big.stat().st_size
    env = {
        **os.environ,
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "DIGEST_MAX_DOCUMENT_BYTES": str(size - 1),
        "DIGEST_INBOX": str(folder),
        "DIGEST_OUTBOX": str(tmp_path / "outbox"),
        "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
        "PYTHONPATH": str(ROOT),
    }
    args = [str(folder)] if command == "ingest" else ["--date", "2026-11-26"]
    r = subprocess.run(
        [sys.executable, "-m", "digest", command, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"refused: {big}: too large ({size:,} bytes" in r.stderr, r.stdout + r.stderr
    assert "2 stored" in r.stdout, r.stdout
