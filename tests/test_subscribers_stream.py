"""`digest subscribers import` of files longer than one write batch, on a real database (SQLite
and PostgreSQL): what reading the file once, a batch at a time, in one transaction, could get
wrong. Batches are made a few rows long here (WRITE_BATCH, LOOKUP) so that a file of a few
dozen rows spans many; and the parts that stream (duplicate check, UTF-8 check, the quick
address check) on their own."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.addresses import normalize_address
from digest.errors import SubscriberError
from digest.store import Store
from digest.store import subscribers as store_subscribers
from digest.subscribers import NewSubscriber, Repeats, check_utf8, normalize_email, parse_csv

from .test_subscribers import (  # with the cli_at and run fixtures
    Run,
    cli_at_fixture,  # noqa: F401  (the run fixture needs it)
    rows,
    run_fixture,  # noqa: F401
    summary,
    write,
)

SECTIONS = ["", "Space", "Nuclear;Space", "War report"]


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_subscribers, "WRITE_BATCH", 7)
    monkeypatch.setattr(store_subscribers, "LOOKUP", 3)


def listing(n: int, start: int = 0, name: str = "Reader") -> list[str]:
    return [
        f"reader{i}@example.com,{name} {i},{SECTIONS[i % len(SECTIONS)]}"
        for i in range(start, start + n)
    ]


def csv_file(path: Path, lines: list[str]) -> Path:
    return write(path, "email,name,sections\n" + "".join(f"{line}\n" for line in lines))


def test_a_file_of_many_batches_imports_every_row_once(
    run: Run, store: Store, tmp_path: Path
) -> None:
    path = csv_file(tmp_path / "many.csv", listing(100))
    r = run("subscribers", "import", str(path))
    assert (r.exit_code, r.stderr) == (0, ""), r.output
    assert r.stdout == f"import: {summary(added=100)}, 0 bad rows skipped\n"
    stored = store.list_subscribers()
    assert sorted(s.email for s in stored) == sorted(f"reader{i}@example.com" for i in range(100))
    by_email = {s.email: s for s in stored}
    assert by_email["reader6@example.com"].name == "Reader 6"
    assert by_email["reader6@example.com"].sections == ("Nuclear", "Space")
    assert by_email["reader7@example.com"].sections == ("War report",)
    assert by_email["reader8@example.com"].sections is None


def test_reimport_of_many_batches_counts_unchanged_and_updated(
    run: Run, store: Store, tmp_path: Path
) -> None:
    path = csv_file(tmp_path / "many.csv", listing(50))
    assert run("subscribers", "import", str(path)).exit_code == 0
    before = store.list_subscribers()
    r = run("subscribers", "import", str(path))
    assert r.stdout == f"import: {summary(unchanged=50)}, 0 bad rows skipped\n"
    assert store.list_subscribers() == before  # same ids too

    # Rows 20-29 renamed, and 10 new ones at the end.
    changed = listing(20) + listing(10, 20, name="Renamed") + listing(30, 30)
    path = csv_file(tmp_path / "changed.csv", changed)
    r = run("subscribers", "import", str(path))
    assert (
        r.stdout == f"import: {summary(added=10, updated=10, unchanged=40)}, 0 bad rows skipped\n"
    )
    names = {s.email: s.name for s in store.list_subscribers()}
    assert names["reader25@example.com"] == "Renamed 25"
    assert names["reader19@example.com"] == "Reader 19"
    assert len(names) == 60


def test_a_repeat_far_apart_names_both_lines_and_nothing_is_imported(
    run: Run, store: Store, tmp_path: Path
) -> None:
    lines = listing(80)
    lines[77] = "READER3@Example.com,Again,"  # line 79 repeats row 3 (line 5), ten batches on
    path = csv_file(tmp_path / "repeat.csv", lines)
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 1
    assert r.stderr == f"refused: {path}:79: reader3@example.com repeats line 5\n"
    assert r.stdout == "import: nothing imported: 1 bad row (see --skip-invalid)\n"
    assert rows(store) == []


def test_a_bad_last_row_leaves_the_database_as_it_was(
    run: Run, store: Store, tmp_path: Path
) -> None:
    first = csv_file(tmp_path / "first.csv", listing(30))
    assert run("subscribers", "import", str(first)).exit_code == 0
    before = store.list_subscribers()

    # Renames, new rows over many batches, then one bad row at the very end.
    lines = listing(30, name="Renamed") + listing(50, 30) + ["not-an-email,Nemo,"]
    path = csv_file(tmp_path / "bad.csv", lines)
    r = run("subscribers", "import", str(path))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"refused: {path}:82: invalid email 'not-an-email': ")
    assert r.stdout == "import: nothing imported: 1 bad row (see --skip-invalid)\n"
    assert store.list_subscribers() == before


def test_every_bad_row_after_the_first_is_still_reported(
    run: Run, store: Store, tmp_path: Path
) -> None:
    lines = listing(40)
    lines[5] = "bad-one,A,"
    lines[20] = "reader2@example.com,Twice,"
    lines[35] = "c@example.com,C,Spcae"
    path = csv_file(tmp_path / "bad.csv", lines)
    r = run("subscribers", "import", str(path))
    refused = r.stderr.splitlines()
    assert [line.split(": ")[2] for line in refused] == [
        "invalid email 'bad-one'",
        "reader2@example.com repeats line 4",
        "unknown section 'Spcae' (the sections are",
    ]
    assert [line.split(":")[2] for line in refused] == ["7", "22", "37"]
    assert r.stdout == "import: nothing imported: 3 bad rows (see --skip-invalid)\n"
    assert rows(store) == []


def test_skip_invalid_imports_the_good_rows_of_every_batch(
    run: Run, store: Store, tmp_path: Path
) -> None:
    lines = listing(60)
    for i in (0, 13, 14, 59):
        lines[i] = f"bad{i},Bad,"
    lines[40] = "reader1@example.com,Twice,"  # reader1 stays as first given
    path = csv_file(tmp_path / "bad.csv", lines)
    r = run("subscribers", "import", str(path), "--skip-invalid")
    assert r.exit_code == 1
    assert len(r.stderr.splitlines()) == 5
    assert r.stdout == f"import: {summary(added=55)}, 5 bad rows skipped\n"
    good = {f"reader{i}@example.com" for i in range(60)} - {
        f"reader{i}@example.com" for i in (0, 13, 14, 40, 59)
    }
    stored = {s.email: s.name for s in store.list_subscribers()}
    assert set(stored) == good
    assert stored["reader1@example.com"] == "Reader 1"


def test_unsubscribed_and_bounced_are_left_alone_in_any_batch(
    run: Run, store: Store, tmp_path: Path
) -> None:
    path = csv_file(tmp_path / "many.csv", listing(40))
    assert run("subscribers", "import", str(path)).exit_code == 0
    for i, state in ((3, "unsubscribed"), (25, "bounced"), (39, "unsubscribed")):
        sub = store.find_subscriber(f"reader{i}@example.com")
        assert sub is not None
        store.set_status(sub.id, state)
    again = csv_file(tmp_path / "again.csv", listing(40, name="New name"))
    r = run("subscribers", "import", str(again))
    assert r.stdout == f"import: {summary(updated=37, alone=3)}, 0 bad rows skipped\n"
    states = {s.email: (s.name, s.status) for s in store.list_subscribers()}
    assert states["reader25@example.com"] == ("Reader 25", "bounced")
    assert states["reader39@example.com"] == ("Reader 39", "unsubscribed")
    assert states["reader24@example.com"] == ("New name 24", "active")


def test_an_error_while_the_rows_are_read_rolls_every_batch_back(store: Store) -> None:
    def rows_then_failure() -> Iterator[NewSubscriber]:
        for i in range(30):
            yield NewSubscriber(f"r{i}@example.com", None, None)
        raise RuntimeError("the source failed")

    with pytest.raises(RuntimeError):
        store.import_subscribers(rows_then_failure())
    assert store.list_subscribers() == []


# ---- the streaming parts on their own ----------------------------------------------------


def test_repeats_finds_every_repeat_with_its_first_line() -> None:
    seen = Repeats()
    n = 5000  # the table grows several times on the way
    for i in range(n):
        assert seen.first_line(f"reader{i}@example.com", i + 2) is None
    for i in range(0, n, 7):
        assert seen.first_line(f"reader{i}@example.com", n + i) == i + 2
    assert seen.first_line("someone-else@example.com", 1) is None


def test_parse_csv_reports_a_repeat_thousands_of_lines_later() -> None:
    lines = [f"r{i}@example.com,R,\n" for i in range(3000)] + ["R17@example.com,Again,\n"]
    result = parse_csv("email,name,sections\n" + "".join(lines), "l.csv", [])
    assert result.errors == ["l.csv:3002: r17@example.com repeats line 19"]
    assert len(result.rows) == 3000


def test_check_utf8_names_the_offset_past_the_first_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest import subscribers

    monkeypatch.setattr(subscribers, "_CHUNK", 16)
    path = tmp_path / "l.csv"
    head = "email,name\nzoe@example.org,Zoë Lefèvre\nrene@example.com,Ren".encode()
    path.write_bytes(head + "é\n".encode("latin-1"))
    with pytest.raises(SubscriberError, match=rf"not valid UTF-8 \(offset {len(head)}\)$"):
        check_utf8(path)
    # A two-byte character cut by the chunk's end is fine; a file that ends inside one is not.
    path.write_bytes(b"x" * 15 + "é".encode() + b"\n")
    check_utf8(path)
    path.write_bytes(b"x" * 20 + "é".encode()[:1])
    with pytest.raises(SubscriberError, match=r"not valid UTF-8 \(offset 20\)$"):
        check_utf8(path)


# Addresses the quick check (a plain local part at a domain checked once) must treat exactly as
# email-validator does: the same address, or a refusal.
TRICKY = [
    "a" * 64 + "@example.com",
    "a" * 100 + "@example.com",
    "a" * 120 + "@" + "b" * 60 + ".com",
    "Postmaster@Example.COM",
    "a.b@localhost",
    "a@test",
    "a@example.test",
    "x@example.invalid",
    "a@xn--exmple-cua.com",
    "a@exämple.com",
    "josé@example.com",
    "a@exa_mple.com",
    "a@-example.com",
    "a@example..com",
    "a@example.com.",
    "a@1.2.3.4",
    "a@[1.2.3.4]",
    "a@com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a+tag@Example.com",
    "A_B-C@EXAMPLE.ORG",
    "a@example.com>",
    "Ana <a@example.com>",
    '"a b"@example.com',
    "a@b@example.com",
    "a@e.x",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@ex ample.com",
    "a@example.local",
    "a@my.home.arpa",
    "@example.com",
    "a@",
]


def reference(address: str) -> str:
    try:
        return normalize_address(address)
    except ValueError:
        return "refused"


def ours(address: str) -> str:
    try:
        return normalize_email(address)
    except SubscriberError:
        return "refused"


@pytest.mark.parametrize("address", TRICKY)
def test_the_quick_address_check_agrees_with_email_validator(address: str) -> None:
    assert ours(address) == reference(address)
    assert ours(address) == reference(address)  # the domain's checked form, from the cache


def test_the_quick_address_check_agrees_on_random_addresses() -> None:
    rng = random.Random(16)
    letters = "aZ09._+-!é@ "
    domains = ["example.com", "EXAMPLE.org", "ex-ample.net", "bad_domain.com", "x.test", "b..c"]
    for _ in range(3000):
        local = "".join(rng.choice(letters) for _ in range(rng.randint(0, 8)))
        address = f"{local}@{rng.choice(domains)}"
        assert ours(address) == reference(address), address
