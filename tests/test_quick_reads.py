"""The quick reads (digest/jobs/quick.py): `digest status` and `digest subscribers list` on a
SQLite file, answered without the store, print exactly what the store's answer prints, load no
SQLAlchemy, and step aside for the store whenever they cannot be sure."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Config, load_config
from digest.jobs import database, quick
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.store import Store, migrate
from digest.store.delivery import DELIVERY_STATES
from digest.store.migrate import head
from digest.store.progress import WorkerShare
from digest.subscribers import SUBSCRIBER_STATES, new_subscriber

from .conftest import SAMPLE_DAY, SAMPLES


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, Config]]:
    """An empty store at the newest revision, in a SQLite file in the working folder."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    config = dataclasses.replace(load_config(env={}, cwd=tmp_path), database_url=url)
    store = Store(url)
    yield store, config
    store.close()


def cli_env(config: Config, tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {"DIGEST_DATABASE_URL": config.database_url, "DIGEST_OUTBOX": str(tmp_path / "out")}
    return env | {f"DIGEST_{key.upper()}": value for key, value in settings.items()}


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def no_store(*_args: object) -> None:
    raise AssertionError("the quick path opened the store")


def both_ways(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> Result:
    """Run the command on the quick path (the store may not be opened), then on the store's
    path (the file's revision made to look foreign), and check they print the same; the
    result, for the caller's own checks."""
    with monkeypatch.context() as m:
        m.setattr(database, "open_store", no_store)
        fast = invoke(env, *args)
    with monkeypatch.context() as m:
        m.setattr(quick, "HEAD", "not-this-one")
        slow = invoke(env, *args)
    assert (fast.exit_code, fast.stdout, fast.stderr) == (
        slow.exit_code,
        slow.stdout,
        slow.stderr,
    )
    return fast


def compose_day(store: Store, config: Config) -> None:
    ingest_jobs.ingest(store, [SAMPLES])
    digest_jobs.compose_day(store, config, SAMPLE_DAY)


def add_subscribers(store: Store, config: Config, n: int) -> None:
    store.upsert_subscribers(
        [new_subscriber(f"r{i}@example.com", None, None, config.section_names) for i in range(n)]
    )


def set_deliveries(path: Path, plan: list[tuple[str, str | None]]) -> None:
    """Give the deliveries, in id order, these (state, worker) pairs."""
    with closing(sqlite3.connect(path)) as conn, conn:
        ids = [i for (i,) in conn.execute("SELECT id FROM deliveries ORDER BY id")]
        assert len(ids) == len(plan)
        conn.executemany(
            "UPDATE deliveries SET state = ?, worker = ? WHERE id = ?",
            [(state, worker, i) for (state, worker), i in zip(plan, ids, strict=True)],
        )


# ---- digest status ----------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_status_of_a_day_with_no_digest_is_the_same_error(
    db: tuple[Store, Config], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: list[str]
) -> None:
    _, config = db
    r = both_ways(monkeypatch, cli_env(config, tmp_path), "status", "--date", SAMPLE_DAY, *as_json)
    assert r.exit_code == 1 and r.stdout == "" and "no digest for" in r.stderr


@pytest.mark.parametrize(
    ("settings", "decision", "approval"),
    [
        ({}, None, "approved"),
        ({}, "hold", "held"),
        ({"approval": "required"}, None, "pending"),
        ({"approval": "required"}, "approve", "approved"),
    ],
)
def test_status_of_a_composed_day_is_the_same(
    db: tuple[Store, Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, str],
    decision: str | None,
    approval: str,
) -> None:
    store, config = db
    compose_day(store, config)
    env = cli_env(config, tmp_path, **settings)
    if decision:
        assert invoke(env, decision, "--date", SAMPLE_DAY).exit_code == 0
    r = both_ways(monkeypatch, env, "status", "--date", SAMPLE_DAY)
    assert r.stdout.endswith(f"(composed, not sent yet); approval: {approval}\n")
    both_ways(monkeypatch, env, "status", "--date", SAMPLE_DAY, "--json")


def test_status_of_a_send_in_every_state_is_the_same(
    db: tuple[Store, Config], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, config = db
    compose_day(store, config)
    add_subscribers(store, config, 12)
    env = cli_env(config, tmp_path)
    assert invoke(env, "send", "--date", SAMPLE_DAY, "--transport", "outbox").exit_code == 0
    plan: list[tuple[str, str | None]] = [
        ("sent", "a:1"),
        ("sent", "a:1"),
        ("failed", "a:1"),
        ("skipped", "a:1"),
        ("sending", "b:2"),  # in hand: counted as queued, and as b:2's
        ("deferred", "b:2"),
        ("sent", "b:2"),
        ("queued", None),
        ("queued", "b:2"),  # a deferred one put back: nobody's until claimed again
        ("deferred", None),
        ("sent", ""),  # a worker without a name shows as ?
        ("failed", "c:3"),
    ]
    set_deliveries(tmp_path / "digest.db", plan)
    r = both_ways(monkeypatch, env, "status", "--date", SAMPLE_DAY)
    assert r.stdout == (
        f"{SAMPLE_DAY}: 3 queued, 4 sent, 2 failed, 2 deferred, 1 skipped; approval: approved\n"
        "  ?: 1 sent, 0 failed, 0 deferred, 0 skipped, 0 in hand\n"
        "  a:1: 2 sent, 1 failed, 0 deferred, 1 skipped, 0 in hand\n"
        "  b:2: 1 sent, 0 failed, 1 deferred, 0 skipped, 1 in hand\n"
        "  c:3: 0 sent, 1 failed, 0 deferred, 0 skipped, 0 in hand\n"
    )
    both_ways(monkeypatch, env, "status", "--date", SAMPLE_DAY, "--json")
    assert invoke(env, "hold", "--date", SAMPLE_DAY).exit_code == 0
    r = both_ways(monkeypatch, env, "status", "--date", SAMPLE_DAY, "--json")
    assert r.stdout.strip().endswith('"approval": "held"}')


# ---- digest subscribers list ------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, *SUBSCRIBER_STATES])
@pytest.mark.parametrize("as_json", [False, True])
def test_subscribers_list_is_the_same(
    db: tuple[Store, Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: str | None,
    as_json: bool,
) -> None:
    store, config = db
    sections = config.section_names
    store.upsert_subscribers(
        [
            new_subscriber("ana@example.com", "Ana Ruiz", None, sections),
            new_subscriber("bo@example.org", None, sections[:2], sections),
            new_subscriber("chloé@exämple.fr", "Chloé « C » Ñ", sections[-1:], sections),
            new_subscriber("dan@example.com", "Dan", sections, sections),
            new_subscriber("eve@example.com", None, None, sections),
            new_subscriber("abe@example.com", "Abe", None, sections),
        ]
    )
    ids = {s.email: s.id for s in store.list_subscribers()}
    store.set_status(ids["bo@example.org"], "unsubscribed")
    store.set_status(ids["dan@example.com"], "bounced")
    store.set_status(ids["eve@example.com"], "paused")
    store.remove_subscriber(ids["ana@example.com"])  # a gap in the ids
    store.add_pending(new_subscriber("gil@example.com", "Gil", sections[:1], sections))
    store.set_sections(ids["abe@example.com"], tuple(sections[1:3]))
    assert quick.subscribers(config, status) == store.list_subscribers(status)
    args = [*(["--status", status] if status else []), *(["--json"] if as_json else [])]
    r = both_ways(monkeypatch, cli_env(config, tmp_path), "subscribers", "list", *args)
    assert r.exit_code == 0
    if status is None and not as_json:
        assert r.stdout.endswith("6 subscribers\n")


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_subscribers_list_of_an_empty_database_is_the_same(
    db: tuple[Store, Config], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: list[str]
) -> None:
    _, config = db
    r = both_ways(monkeypatch, cli_env(config, tmp_path), "subscribers", "list", *as_json)
    assert r.stdout == ("[]\n" if as_json else "0 subscribers\n")


# ---- what the quick path loads ------------------------------------------------------------------


def test_the_quick_path_loads_no_database_web_or_crypto_stack(
    db: tuple[Store, Config], tmp_path: Path
) -> None:
    store, config = db
    compose_day(store, config)
    add_subscribers(store, config, 3)
    heavy = ["sqlalchemy", "sqlmodel", "alembic", "pydantic", "jinja2", "fastapi", "cryptography"]
    code = (
        "import sys\n"
        "from digest.cli import cli\n"
        f"for args in (['status', '--date', '{SAMPLE_DAY}'], ['subscribers', 'list']):\n"
        "    try:\n        cli(args, prog_name='digest')\n    except SystemExit:\n        pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    env = {**cli_env(config, tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{SAMPLE_DAY}: 0 queued") and "3 subscribers" in lines
    assert lines[-1] == "[]"


# ---- when the store answers instead -------------------------------------------------------------


def test_the_quick_reader_knows_the_newest_revision() -> None:
    assert head() == quick.HEAD == migrate.NEWEST


def test_a_database_at_the_newest_revision_opens_without_alembic(tmp_path: Path) -> None:
    """Alembic is loaded to migrate, not to see that nothing needs migrating."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    Store(url).close()  # set up: this one migrates
    script = (
        "import sys; from digest.store import Store; "
        f"Store({url!r}).close(); print('alembic' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_the_quick_reader_reports_as_the_store_does() -> None:
    assert quick.DELIVERY_STATES == DELIVERY_STATES
    assert tuple(WorkerShare().as_dict()) == quick.SHARE_KEYS


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///digest.db", "digest.db"),
        ("sqlite:////var/lib/digest.db", "/var/lib/digest.db"),
        ("sqlite+pysqlite:///data/d.db", "data/d.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///digest.db?timeout=5", None),
        ("postgresql+psycopg://digest:secret@db.example.org/digest", None),
    ],
)
def test_only_a_plain_sqlite_file_is_read_quickly(url: str, path: str | None) -> None:
    assert quick.sqlite_file(url) == (Path(path) if path else None)


def test_postgresql_and_a_missing_file_are_left_to_the_store(
    db: tuple[Store, Config], tmp_path: Path
) -> None:
    _, config = db
    elsewhere = dataclasses.replace(config, database_url="postgresql+psycopg://u@127.0.0.1:1/x")
    assert quick.day_status(elsewhere, SAMPLE_DAY) is None
    assert quick.subscribers(elsewhere) is None
    missing = dataclasses.replace(config, database_url=f"sqlite:///{tmp_path / 'none.db'}")
    assert quick.day_status(missing, SAMPLE_DAY) is None
    assert quick.subscribers(missing) is None
    assert not (tmp_path / "none.db").exists()  # and nothing was made


def test_another_revision_or_a_broken_file_is_left_to_the_store(
    db: tuple[Store, Config], tmp_path: Path
) -> None:
    store, config = db
    compose_day(store, config)
    assert quick.subscribers(config) == [] and quick.day_status(config, SAMPLE_DAY) is not None
    with closing(sqlite3.connect(tmp_path / "digest.db")) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0008'")
    assert quick.subscribers(config) is None
    assert quick.day_status(config, SAMPLE_DAY) is None
    env = cli_env(config, tmp_path)
    r = invoke(env, "status", "--date", SAMPLE_DAY)  # the store refuses it, as before
    assert r.exit_code == 2 and "digest db upgrade" in r.stderr

    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all" * 100)
    odd = dataclasses.replace(config, database_url=f"sqlite:///{broken}")
    assert quick.subscribers(odd) is None
    assert quick.day_status(odd, SAMPLE_DAY) is None
