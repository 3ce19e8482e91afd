"""`digest subscribers import` through click's CliRunner on a real SQLite file in a temporary
folder: the sample list, re-imports, bad rows and files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.store import Store

from .test_subscribers import (  # with the cli_at and run fixtures
    SAMPLE_CSV,
    SAMPLE_ROWS,
    VALID,
    Run,
    cli_at_fixture,  # noqa: F401  (the run fixture needs it)
    import_sample,
    rows,
    run_fixture,  # noqa: F401
    summary,
    write,
)

# ---- import ----------------------------------------------------------------------------------


def test_import_sample(run: Run, store: Store) -> None:
    r = run("subscribers", "import", str(SAMPLE_CSV))
    assert r.exit_code == 0
    assert r.stdout == f"import: {summary(added=8)}, 0 bad rows skipped\n"
    assert r.stderr == ""
    assert rows(store) == SAMPLE_ROWS


def test_import_twice_changes_nothing(run: Run, store: Store) -> None:
    import_sample(run)
    before = store.list_subscribers()
    r = run("subscribers", "import", str(SAMPLE_CSV))
    assert r.exit_code == 0
    assert r.stdout == f"import: {summary(unchanged=8)}, 0 bad rows skipped\n"
    assert store.list_subscribers() == before  # same ids, names, sections, states


def test_reimport_updates_changed_names_and_sections(
    run: Run, store: Store, tmp_path: Path
) -> None:
    import_sample(run)
    text = SAMPLE_CSV.read_text(encoding="utf-8")
    text = text.replace("ana.ruiz@example.com,Ana Ruiz,", "ANA.RUIZ@example.com,Ana María Ruiz,")
    text = text.replace(
        "mei.tanaka@example.com,Mei Tanaka,", "mei.tanaka@example.com,Mei Tanaka,nuclear"
    )
    text = text.replace("Zoë Lefèvre,Space;Earth and climate", "Zoë Lefèvre,")
    changed = write(tmp_path / "changed.csv", text)
    r = run("subscribers", "import", str(changed))
    assert r.exit_code == 0, r.output
    assert r.stdout == f"import: {summary(updated=3, unchanged=5)}, 0 bad rows skipped\n"
    expected = list(SAMPLE_ROWS)
    expected[0] = ("ana.ruiz@example.com", "Ana María Ruiz", None, "active")
    expected[1] = ("zoe.lefevre@example.org", "Zoë Lefèvre", None, "active")
    expected[4] = ("mei.tanaka@example.com", "Mei Tanaka", ("Nuclear",), "active")
    assert rows(store) == expected


BAD = (
    "email,name,sections\n"  # 1
    "ana@example.com,Ana,Space\n"  # 2
    'bob@example.com,"Bob\n'  # 3  a name with a line break inside a quoted field…
    'Smith",\n'  # 4  …ends here
    "carol@example.com,Carol,Spcae\n"  # 5
    "\n"  # 6
    "ANA@Example.COM,Ana Again,\n"  # 7
    ",Nobody,\n"  # 8
    "not-an-email,Nemo,\n"  # 9
    'dave@example.com,"Dave, Jr",nuclear;SPACE\n'  # 10
)


def bad_row_errors(path: Path) -> list[str]:
    """The refusals for BAD except the multi-line one (checked on its own below)."""
    return [
        f"refused: {path}:5: unknown section 'Spcae' (the sections are: {VALID})",
        f"refused: {path}:7: ana@example.com repeats line 2",
        f"refused: {path}:8: email is empty",
        f"refused: {path}:9: invalid email 'not-an-email': ",
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_bad_rows_are_reported_and_nothing_is_imported(
    run: Run, store: Store, tmp_path: Path, newline: str
) -> None:
    path = write(tmp_path / "bad.csv", BAD, newline)
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 1
    assert r.stdout == "import: nothing imported: 5 bad rows (see --skip-invalid)\n"
    lines = r.stderr.splitlines()
    assert len(lines) == 5
    assert lines[0] in (
        f"refused: {path}:3: name contains a line break or control character",
        f"refused: {path}:4: name contains a line break or control character",
    )
    expected = bad_row_errors(path)
    assert lines[1:4] == expected[:3]
    assert lines[4].startswith(expected[3]) and "@-sign" in lines[4]
    assert rows(store) == []


def test_bad_row_with_a_multiline_field_is_reported_at_the_line_it_starts(
    run: Run, tmp_path: Path
) -> None:
    path = write(tmp_path / "bad.csv", BAD)
    r = run("subscribers", "import", str(path))
    assert r.stderr.splitlines()[0] == (
        f"refused: {path}:3: name contains a line break or control character"
    )


def test_skip_invalid_imports_the_good_rows(run: Run, store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", BAD)
    r = run("subscribers", "import", str(path), "--skip-invalid")
    assert r.exit_code == 1  # some rows were still refused
    assert r.stdout == f"import: {summary(added=2)}, 5 bad rows skipped\n"
    assert len(r.stderr.splitlines()) == 5
    assert r.stderr.splitlines()[1:4] == bad_row_errors(path)[:3]
    assert rows(store) == [
        ("ana@example.com", "Ana", ("Space",), "active"),  # the first of the two spellings
        ("dave@example.com", "Dave, Jr", ("Nuclear", "Space"), "active"),
    ]


def test_import_without_email_column_cannot_run(run: Run, store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "noemail.csv", "address,name\nana@example.com,Ana\n")
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr == f"error: {path}:1: no 'email' column (expected email,name,sections)\n"
    assert rows(store) == []


def test_import_of_a_file_that_is_not_utf8_cannot_run(
    run: Run, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    head = "email,name\nrene@example.com,Ren"
    path.write_bytes((head + "é\n").encode("latin-1"))
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr == f"error: {path}: not valid UTF-8 (offset {len(head)})\n"
    assert rows(store) == []


def test_import_of_a_missing_file_cannot_run(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 2
    assert r.stderr == f"error: {path}: cannot read: No such file or directory\n"


def test_import_of_a_header_only_file(run: Run, store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "email,name,sections\n")
    r = run("subscribers", "import", str(path))
    assert (r.exit_code, r.stdout) == (0, f"import: {summary()}, 0 bad rows skipped\n")
    assert rows(store) == []


def test_import_refuses_a_name_that_could_inject_a_header(
    run: Run, store: Store, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "inject.csv",
        'email,name\nana@example.com,"Ana\r\nBcc: evil@example.com"\nbob@example.com,Bob\n',
    )
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 1
    # The record spans lines 2-3; which of the two is reported is checked on its own above.
    assert r.stderr in (
        f"refused: {path}:{n}: name contains a line break or control character\n" for n in (2, 3)
    )
    assert rows(store) == []


def test_import_does_not_resubscribe_unsubscribed_or_bounced(
    run: Run, store: Store, tmp_path: Path
) -> None:
    import_sample(run)
    r = run("subscribers", "unsubscribe", "ANA.Ruiz@Example.com")
    assert (r.exit_code, r.stdout) == (0, "unsubscribed: ana.ruiz@example.com\n")
    mei = store.find_subscriber("mei.tanaka@example.com")
    assert mei is not None
    store.set_status(mei.id, "bounced")

    text = SAMPLE_CSV.read_text(encoding="utf-8")
    text = text.replace("Ana Ruiz,", "Ana Changed,Space").replace("Mei Tanaka,", "Mei Changed,")
    r = run("subscribers", "import", str(write(tmp_path / "again.csv", text)))
    assert r.exit_code == 0, r.output
    assert r.stdout == f"import: {summary(unchanged=6, alone=2)}, 0 bad rows skipped\n"
    expected = list(SAMPLE_ROWS)
    expected[0] = ("ana.ruiz@example.com", "Ana Ruiz", None, "unsubscribed")
    expected[4] = ("mei.tanaka@example.com", "Mei Tanaka", None, "bounced")
    assert rows(store) == expected


def test_import_matches_sections_case_insensitively(run: Run, store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv",
        "email,name,sections\nzoe@example.org,Zoé,NUCLEAR; war report ;missile DEFENSE\n",
    )
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 0, r.output
    assert rows(store) == [
        ("zoe@example.org", "Zoé", ("Missile defense", "War report", "Nuclear"), "active")
    ]
