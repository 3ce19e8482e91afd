"""Editors by name (issue #13): `digest editors add/remove/list`, argon2 hashes in the
`editors` table, signing in with a name and a password (the `editor_password` setting goes
on working as `editor`), approvals recorded under the signed-in editor's name, and migration
0006. Real SQLite and PostgreSQL, the CLI in-process, the web app's test client."""

from __future__ import annotations

import dataclasses
import json
import warnings

import pytest
from alembic import command
from click.testing import CliRunner, Result
from httpx import Response
from sqlalchemy import create_engine, inspect, text

from digest.cli import cli
from digest.config import Config
from digest.store import Store
from digest.store.migrate import _config, head
from digest.web import create_app
from digest.web.app import LOGIN_ATTEMPTS
from digest.web.security import SESSION_COOKIE

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPTestServer
from .test_approval import approvals
from .test_send import smtp_config
from .test_send_stops import prepare
from .test_web import BASE, PASSWORD, cfg_fixture  # noqa: F401  (the cfg fixture)
from .test_web_editor import csrf_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ALICE = "alice secret 1"
WRONG = "That name or password is not right."


def run(config: Config, *args: str, stdin: str | None = None) -> Result:
    env = {"DIGEST_DATABASE_URL": config.database_url}
    return CliRunner().invoke(cli, ["editors", *args], input=stdin, env=env)


def add(config: Config, name: str, password: str = ALICE) -> Result:
    return run(config, "add", name, "--password-stdin", stdin=password + "\n")


def stored_hashes(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, password_hash FROM editors"))
        return {name: hashed for name, hashed in rows}


def sign_in(client: TestClient, name: str, password: str) -> Response:
    csrf = csrf_of(client.get("/editor/login").text)
    data = {"csrf": csrf, "name": name, "password": password}
    return client.post("/editor/login", data=data, follow_redirects=False)


def session_names(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [n for (n,) in conn.execute(text("SELECT editor FROM editor_sessions"))]


@pytest.fixture(name="named_cfg")
def named_cfg_fixture(config: Config, smtp_server: SMTPTestServer) -> Config:
    """The web config without editor_password: only named accounts sign in."""
    return smtp_config(config, smtp_server)


# ---- the commands ---------------------------------------------------------------------------


def test_add_list_and_remove(config: Config, store: Store) -> None:
    r = add(config, "alice")
    assert r.exit_code == 0 and r.output.strip() == "editors: added alice"
    # The hidden prompt asks twice.
    r = run(config, "add", "bob.b_2-x", stdin="bob password\nbob password\n")
    assert r.exit_code == 0 and "editors: added bob.b_2-x" in r.output
    assert "bob password" not in r.output

    hashes = stored_hashes(store)
    assert set(hashes) == {"alice", "bob.b_2-x"}
    assert hashes["alice"].startswith("$argon2id$") and ALICE not in hashes["alice"]
    assert hashes["alice"] != hashes["bob.b_2-x"]

    r = run(config, "list")
    lines = r.output.strip().splitlines()
    assert r.exit_code == 0 and [line.split("\t")[0] for line in lines] == ["alice", "bob.b_2-x"]
    assert all("added 20" in line and "$argon2" not in line for line in lines)
    rows = json.loads(run(config, "list", "--json").output)
    assert [row["name"] for row in rows] == ["alice", "bob.b_2-x"]
    assert set(rows[0]) == {"name", "created_at"}

    r = run(config, "remove", "alice")
    assert r.exit_code == 0 and "removed alice" in r.output
    assert set(stored_hashes(store)) == {"bob.b_2-x"}
    r = run(config, "remove", "bob.b_2-x")
    assert r.exit_code == 0 and run(config, "list").output.strip().startswith("editors: none")
    assert json.loads(run(config, "list", "--json").output) == []


def test_add_refuses_a_taken_name_a_short_password_and_a_bad_name(
    config: Config, store: Store
) -> None:
    assert add(config, "alice").exit_code == 0
    before = stored_hashes(store)
    r = add(config, "alice", "another password")
    assert r.exit_code != 0 and "already an editor named 'alice'" in r.output
    assert stored_hashes(store) == before  # the first password still stands

    for password in ("", "short7!"):
        r = add(config, "carol", password)
        assert r.exit_code != 0 and "at least 8 characters" in r.output
    r = run(config, "add", "carol", stdin="password one\npassword two\n")
    assert r.exit_code != 0  # the confirmation did not match
    for name in ("", "a b", "zoë", "x" * 41, "a/b"):
        r = add(config, name)
        assert r.exit_code != 0 and "1-40 letters, digits" in r.output, name
    assert set(stored_hashes(store)) == {"alice"}


def test_remove_names_the_valid_editors_when_the_name_is_unknown(
    config: Config, store: Store
) -> None:
    r = run(config, "remove", "nobody")
    assert r.exit_code != 0
    assert r.output.strip() == "error: no editor named 'nobody' (editors: none)"
    add(config, "alice")
    add(config, "bob")
    r = run(config, "remove", "nobody")
    assert r.exit_code != 0 and r.output.count("\n") == 1
    assert "no editor named 'nobody' (editors: alice, bob)" in r.output


def test_commands_have_help_with_an_example() -> None:
    for args in (["editors"], ["editors", "add"], ["editors", "remove"], ["editors", "list"]):
        r = CliRunner().invoke(cli, [*args, "--help"])
        assert r.exit_code == 0 and "Example:" in r.output and "digest editors" in r.output


# ---- signing in -----------------------------------------------------------------------------


def test_a_named_editor_signs_in_and_others_do_not(
    named_cfg: Config, store: Store, config: Config
) -> None:
    with TestClient(create_app(named_cfg, store), base_url=BASE) as client:
        assert client.get("/editor/login").status_code == 404  # no accounts: pages off
        add(config, "alice")
        page = client.get("/editor/login")
        assert page.status_code == 200 and 'name="name"' in page.text

        for name, password in (("alice", "wrong password"), ("mallory", ALICE), ("editor", "")):
            r = sign_in(client, name, password)
            assert r.status_code == 401 and WRONG in r.text
            assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
        assert session_names(store) == []

        r = sign_in(client, "alice", ALICE)
        assert r.status_code == 303 and r.headers["location"] == "/editor/"
        assert client.get("/editor/", follow_redirects=False).status_code == 200
        assert session_names(store) == ["alice"]

        # Removing the account ends its session: the cookie opens nothing.
        assert run(config, "remove", "alice").exit_code == 0
        assert session_names(store) == []
        assert client.get("/editor/", follow_redirects=False).status_code != 200


def test_editor_password_still_signs_in_as_editor(cfg: Config, store: Store) -> None:
    with TestClient(create_app(cfg, store), base_url=BASE) as client:
        r = sign_in(client, "alice", PASSWORD)  # the shared password is only 'editor's
        assert r.status_code == 401 and WRONG in r.text
        assert sign_in(client, "editor", PASSWORD).status_code == 303
        assert session_names(store) == ["editor"]


def test_a_database_editor_named_editor_wins_over_the_setting(
    cfg: Config, store: Store, config: Config
) -> None:
    add(config, "editor")
    with TestClient(create_app(cfg, store), base_url=BASE) as client:
        assert sign_in(client, "editor", PASSWORD).status_code == 401
        assert sign_in(client, "editor", ALICE).status_code == 303


def test_the_sign_in_limit_counts_named_attempts(
    named_cfg: Config, store: Store, config: Config
) -> None:
    add(config, "alice")
    with TestClient(create_app(named_cfg, store), base_url=BASE) as client:
        for _ in range(LOGIN_ATTEMPTS):
            assert sign_in(client, "alice", "wrong password").status_code == 401
        assert sign_in(client, "alice", ALICE).status_code == 429
        assert session_names(store) == []


# ---- approvals carry the editor's name ------------------------------------------------------


def test_approval_through_the_web_records_the_editors_name(
    named_cfg: Config, store: Store, config: Config
) -> None:
    cfg = dataclasses.replace(named_cfg, approval="required")
    prepare(store, cfg, 1)
    add(config, "alice")
    url = f"/editor/{SAMPLE_DAY}"
    with TestClient(create_app(cfg, store), base_url=BASE) as client:
        assert sign_in(client, "alice", ALICE).status_code == 303
        csrf = csrf_of(client.get(url).text)
        for token in ("", "0" * 64):
            assert client.post(f"{url}/approve", data={"csrf": token}).status_code == 403
        assert approvals(store) == []
        r = client.post(f"{url}/approve", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert approvals(store) == [(SAMPLE_DAY, "approved", "alice")]
        r = client.post(f"{url}/hold", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert approvals(store) == [(SAMPLE_DAY, "held", "alice")]
        assert store.approval(SAMPLE_DAY, required=True) == "held"


# ---- the migration --------------------------------------------------------------------------


def test_migration_0006_upgrades_from_0005_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0005")
        assert not inspect(conn).has_table("editors")
    engine.dispose()
    r = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": database_url})
    assert r.output.strip() == f"db: 0005 -> {head()}" and head() >= "0006"

    store = Store(database_url)
    try:
        assert store.add_editor("alice", "$argon2id$stand-in") and store.has_editors()
        assert not store.add_editor("alice", "$argon2id$other")
        assert store.editor_hash("alice") == "$argon2id$stand-in"
        with store.engine.begin() as conn:
            command.downgrade(_config(conn), "0005")
            assert not inspect(conn).has_table("editors")
            assert inspect(conn).has_table("approvals")
            command.upgrade(_config(conn), "head")
            assert inspect(conn).has_table("editors")
    finally:
        store.close()
