"""Subscribers: the pure CSV/address/section helpers, and the CLI fixtures and sample data
shared with the command tests (test_subscribers_import.py, test_subscribers_manage.py), which
run every `digest subscribers` command through click's CliRunner on a real SQLite file in a
temporary folder."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Config, load_config
from digest.errors import SubscriberError
from digest.store import Store
from digest.subscribers import (
    MAX_NAME,
    SUBSCRIBER_STATES,
    clean_name,
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
# The default sections, as the message for an unknown section lists them.
VALID = "; ".join(load_config(env={}, cwd=ROOT / "tests").section_names)
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


# Fixtures carry a name= so the command tests can import them without shadowing arguments.
@pytest.fixture(name="cli_at")
def cli_at_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Run]:
    """`cli_at(url)` runs the CLI against the database at `url` (no digest.toml in reach)."""
    monkeypatch.chdir(tmp_path)

    def at(url: str) -> Run:
        def invoke(*args: str) -> Result:
            env = {"DIGEST_DATABASE_URL": url}
            return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

        return invoke

    return at


@pytest.fixture(name="run")
def run_fixture(cli_at: Callable[[str], Run], config: Config) -> Run:
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
        ("josé@exämple.com", "josé@xn--exmple-cua.com"),  # the domain as SMTP carries it
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
    with pytest.raises(
        SubscriberError, match=re.escape(f"unknown section 'Spcae' (the sections are: {VALID})")
    ):
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
    assert SUBSCRIBER_STATES == ("active", "unsubscribed", "bounced", "pending", "paused")
    group = cli.get_command(click.Context(cli), "subscribers")
    assert isinstance(group, click.Group)
    assert isinstance(group, click.Group)
    (status,) = [p for p in group.commands["list"].params if p.name == "status"]
    assert isinstance(status.type, click.Choice)
    assert tuple(status.type.choices) == SUBSCRIBER_STATES
