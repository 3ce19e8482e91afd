"""Subscribers: the pure CSV/address/section helpers, and every `digest subscribers` command
through click's CliRunner on a real SQLite file in a temporary folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from digest import app
from digest.cli import cli
from digest.config import Config
from digest.store import Store
from digest.subscribers import (
    MAX_NAME,
    STATES,
    SubscriberError,
    clean_name,
    new_subscriber,
    normalize_email,
    parse_csv,
    parse_sections,
    read_csv,
    write_csv,
)

from .conftest import ROOT

Run = Callable[..., Result]
Row = tuple[str, str | None, tuple[str, ...] | None, str]

SAMPLE_CSV = ROOT / "subscribers" / "sample.csv"
# What subscribers/sample.csv becomes: sections in canonical config order (Rafael's file order
# is "Defence industry…;Missiles…", the config has Missiles first).
SAMPLE_ROWS: list[Row] = [
    ("ana.ruiz@example.com", "Ana Ruiz", None, "active"),
    ("zoe.lefevre@example.org", "Zoë Lefèvre", ("Space", "Earth and climate"), "active"),
    ("chidi.okafor@example.com", "Okafor, Chidi", None, "active"),
    (
        "samir.haddad@example.org",
        "Samir Haddad",
        ("Superpowers and diplomacy", "Missile defense", "Nuclear"),
        "active",
    ),
    ("mei.tanaka@example.com", "Mei Tanaka", None, "active"),
    (
        "tom.becker@example.com",
        "Tom Becker",
        ("Drones and air power", "Military space and satellites", "War report"),
        "active",
    ),
    ("ingrid.holm@example.org", "Ingrid Holm", None, "active"),
    (
        "rafael.costa@example.com",
        "Rafael Costa",
        ("Missiles and strike weapons", "Defence industry and budgets"),
        "active",
    ),
]


def summary(added: int = 0, updated: int = 0, unchanged: int = 0, alone: int = 0) -> str:
    return (
        f"{added} added, {updated} updated, {unchanged} unchanged, "
        f"{alone} unsubscribed or bounced left alone"
    )


def rows(store: Store, status: str | None = None) -> list[Row]:
    return [(s.email, s.name, s.sections, s.status) for s in store.list_subscribers(status)]


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


@pytest.fixture
def cli_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Run]:
    """`cli_at(url)` runs the CLI against the database at `url` (no digest.toml in reach)."""
    monkeypatch.chdir(tmp_path)

    def at(url: str) -> Run:
        def invoke(*args: str) -> Result:
            env = {"DIGEST_DATABASE_URL": url}
            return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

        return invoke

    return at


@pytest.fixture
def run(cli_at: Callable[[str], Run], config: Config) -> Run:
    """The CLI on the same SQLite file as the `store` fixture, so tests can look inside."""
    return cli_at(config.database_url)


def import_sample(run: Run) -> None:
    r = run("subscribers", "import", str(SAMPLE_CSV))
    assert (r.exit_code, r.stderr) == (0, ""), r.output


# ---- pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("Ana@Example.COM", "ana@example.com"),
        ("  ANA@EXAMPLE.COM\t", "ana@example.com"),
        ("josé@exämple.com", "josé@exämple.com"),
        ("Ana.Ruiz+news@Sub.Example.ORG", "ana.ruiz+news@sub.example.org"),
    ],
)
def test_normalize_email_folds_case_and_trims(given: str, expected: str) -> None:
    assert normalize_email(given) == expected


def test_normalize_email_same_address_in_another_case_is_equal() -> None:
    assert normalize_email("Ana@Example.COM") == normalize_email("ana@example.com")


@pytest.mark.parametrize(
    "bad",
    [
        "not-an-email",
        "ana@",
        "@example.com",
        "ana@example",  # no dot in the domain
        "a..b@example.com",
        "ana @example.com",
        "Ana <ana@example.com>",  # display names belong in the name column
        "ana@example.com\r\nBcc: evil@example.com",  # header injection through the address
        "ana@example.com,bob@example.com",
    ],
)
def test_normalize_email_refuses_bad_syntax(bad: str) -> None:
    with pytest.raises(SubscriberError, match=r"^invalid email "):
        normalize_email(bad)


@pytest.mark.parametrize("empty", ["", "   ", "\t"])
def test_normalize_email_refuses_empty(empty: str) -> None:
    with pytest.raises(SubscriberError, match=r"^email is empty$"):
        normalize_email(empty)


def test_normalize_email_does_not_look_up_dns() -> None:
    # A syntactically fine domain that cannot exist: no DNS check, so it is accepted.
    assert normalize_email("x@no-such-domain.invalid-tld-example") == (
        "x@no-such-domain.invalid-tld-example"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("Ana Ruiz", "Ana Ruiz"),
        ("  Ana    Ruiz  ", "Ana Ruiz"),
        ("Zoë Lefèvre", "Zoë Lefèvre"),
        ("Okafor, Chidi", "Okafor, Chidi"),
        ("x" * MAX_NAME, "x" * MAX_NAME),
    ],
)
def test_clean_name(given: str | None, expected: str | None) -> None:
    assert clean_name(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "Ana\nRuiz",
        "Ana\rRuiz",
        "Ana\r\nBcc: evil@example.com",
        "A\tB",
        "A\x00B",
        "A\x1bB",
        "A\x7fB",
    ],
)
def test_clean_name_refuses_line_breaks_and_control_characters(bad: str) -> None:
    with pytest.raises(SubscriberError, match=r"^name contains a line break or control character$"):
        clean_name(bad)


@pytest.mark.parametrize("bad", ["Ana\x85Ruiz", "Ana\x9bRuiz", "Ana\x80Ruiz"])
def test_clean_name_refuses_c1_control_characters(bad: str) -> None:
    # U+0080..U+009F are control characters too (Unicode category Cc; U+0085 is NEL, a line
    # break for str.splitlines). The requirement refuses names with control characters.
    with pytest.raises(SubscriberError, match=r"^name contains a line break or control character$"):
        clean_name(bad)


def test_clean_name_refuses_overlong() -> None:
    with pytest.raises(SubscriberError, match=rf"^name is longer than {MAX_NAME} characters$"):
        clean_name("x" * (MAX_NAME + 1))


def test_parse_sections_canonical_spelling_order_and_no_repeats(config: Config) -> None:
    known = config.section_names
    got = parse_sections(
        " space ;NUCLEAR;superpowers AND diplomacy;Space;earth   and climate", known
    )
    assert got == ("Superpowers and diplomacy", "Nuclear", "Space", "Earth and climate")


def test_parse_sections_accepts_a_list_and_the_catch_all(config: Config) -> None:
    known = config.section_names
    assert parse_sections(["more headlines", "war REPORT"], known) == (
        "War report",
        "More headlines",
    )


@pytest.mark.parametrize("empty", [None, "", "  ", ";", " ; ;", []])
def test_parse_sections_empty_means_all(config: Config, empty: str | list[str] | None) -> None:
    assert parse_sections(empty, config.section_names) is None


def test_parse_sections_refuses_unknown_names(config: Config) -> None:
    with pytest.raises(SubscriberError, match=r"^unknown section 'Spcae'$"):
        parse_sections("Space; Spcae ;Nuclear", config.section_names)


def test_parse_csv_reads_rows_with_their_physical_lines(config: Config) -> None:
    text = (
        "email,name,sections\n"
        "Ana@Example.com,Ana Ruiz,space;nuclear\n"
        "\n"
        'bob@example.com,"Bob, Jr",\n'
        "carol@example.com\n"  # short row: no name, all sections
    )
    result = parse_csv(text, "list.csv", config.section_names)
    assert result.errors == []
    assert [(r.email, r.name, r.sections, r.line) for r in result.rows] == [
        ("ana@example.com", "Ana Ruiz", ("Nuclear", "Space"), 2),
        ("bob@example.com", "Bob, Jr", None, 4),
        ("carol@example.com", None, None, 5),
    ]


def test_parse_csv_without_email_column(config: Config) -> None:
    with pytest.raises(SubscriberError) as exc:
        parse_csv("name,sections\nAna,\n", "list.csv", config.section_names)
    assert str(exc.value) == "list.csv:1: no 'email' column (expected email,name,sections)"


def test_parse_csv_of_an_empty_text_has_no_email_column(config: Config) -> None:
    with pytest.raises(SubscriberError, match=r"^list\.csv:1: no 'email' column"):
        parse_csv("", "list.csv", config.section_names)


def test_parse_csv_row_with_more_fields_than_the_header_is_refused(config: Config) -> None:
    # An unquoted comma in a name: csv puts " Chidi" in an extra field. Taking "Okafor" as
    # the name and dropping the rest silently loses data; the row should be refused.
    result = parse_csv(
        "email,name\nchidi@example.com,Okafor, Chidi\n", "l.csv", config.section_names
    )
    assert [r.email for r in result.rows] == []
    assert len(result.errors) == 1 and result.errors[0].startswith("l.csv:2: ")


def test_write_csv_then_parse_csv_round_trips(config: Config) -> None:
    subs = [
        ("ana@example.com", "Ana Ruiz", None),
        ("bob@example.com", 'Bob "The Builder", Jr', ("Space", "Nuclear")),
        ("zoe@example.org", "Zoë Lefèvre", ("More headlines",)),
        ("nameless@example.org", None, None),
    ]
    text = write_csv(subs)
    assert text == (
        "email,name,sections\n"
        "ana@example.com,Ana Ruiz,\n"
        'bob@example.com,"Bob ""The Builder"", Jr",Space;Nuclear\n'
        "zoe@example.org,Zoë Lefèvre,More headlines\n"
        "nameless@example.org,,\n"
    )
    result = parse_csv(text, "x.csv", ["Space", "Nuclear", "More headlines"])
    assert result.errors == []
    assert [(r.email, r.name, r.sections) for r in result.rows] == subs


def test_read_csv_strips_bom_and_reads_headers_in_any_case_and_order(
    tmp_path: Path, config: Config
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffName , EMAIL , Sections\r\nAna Ruiz,Ana@Example.com,space\r\n".encode())
    result = read_csv(path, config.section_names)
    assert result.errors == []
    assert [(r.email, r.name, r.sections, r.line) for r in result.rows] == [
        ("ana@example.com", "Ana Ruiz", ("Space",), 2)
    ]


def test_states() -> None:
    assert STATES == ("active", "unsubscribed", "bounced", "pending", "paused")
    group = cli.commands["subscribers"]
    assert isinstance(group, click.Group)
    (status,) = [p for p in group.commands["list"].params if p.name == "status"]
    assert isinstance(status.type, click.Choice)
    assert tuple(status.type.choices) == STATES


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
        f"refused: {path}:5: unknown section 'Spcae'",
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


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["not-an-email"], "error: invalid email 'not-an-email': "),
        (["", "--name", "X"], "error: email is empty\n"),
        (["ana@example.com", "--sections", "Bogus"], "error: unknown section 'Bogus'\n"),
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


def test_add_keeps_what_was_not_given(store: Store, config: Config) -> None:
    app.add_subscriber(store, config, "ana@example.com", "Ana Ruiz", "Space;Nuclear")
    assert app.add_subscriber(store, config, "ANA@example.com", "Ana R.", None) == "updated"
    sub = store.find_subscriber("ana@example.com")
    assert sub is not None and (sub.name, sub.sections) == ("Ana R.", ("Nuclear", "Space"))
    app.add_subscriber(store, config, "ana@example.com", None, "War report")
    sub = store.find_subscriber("ana@example.com")
    assert sub is not None and (sub.name, sub.sections) == ("Ana R.", ("War report",))
