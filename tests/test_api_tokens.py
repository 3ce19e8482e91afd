"""API tokens: `digest tokens create/list/revoke`, what is stored (a hash, never the token),
a revoked token, and that a token never reaches a log, under the test client and under a
real uvicorn server with its access log on."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import time
import warnings
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from click.testing import CliRunner, Result
from sqlalchemy import text

from digest.cli import cli
from digest.config import Config
from digest.errors import ApiTokenError, NotFoundError
from digest.jobs import api_tokens
from digest.store import Store
from digest.web import create_app
from digest.web.security import RedactTokens

from .test_api import (  # with the cfg and client fixtures
    API,
    bearer,
    cfg_fixture,  # noqa: F401
    client_fixture,  # noqa: F401
    everyone,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def tokens(config: Config, *args: str) -> Result:
    env = {"DIGEST_DATABASE_URL": config.database_url}
    return CliRunner().invoke(cli, ["tokens", *args], env=env)


def stored_rows(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, token_hash FROM api_tokens ORDER BY name"))
        return [(n, h) for n, h in rows]


# ---- the command line -----------------------------------------------------------------------


def test_create_prints_the_token_alone_on_its_last_line_and_stores_only_its_hash(
    config: Config, store: Store
) -> None:
    r = tokens(config, "create", "crm-sync")
    assert r.exit_code == 0, r.output
    token = r.output.rstrip("\n").splitlines()[-1]
    assert token.startswith("dg_") and len(token) >= 40 and token.strip() == token
    assert stored_rows(store) == [("crm-sync", hashlib.sha256(token.encode()).hexdigest())]
    assert api_tokens.token_name(store, token) == "crm-sync"
    # Each token is new: a second one is another secret.
    other = tokens(config, "create", "backup").output.splitlines()[-1]
    assert other != token and api_tokens.token_name(store, other) == "backup"


def test_list_shows_names_and_dates_but_never_a_token(config: Config, store: Store) -> None:
    assert "tokens: none" in tokens(config, "list").output
    token = tokens(config, "create", "crm-sync").output.splitlines()[-1]
    assert api_tokens.token_name(store, token) == "crm-sync"  # used once
    tokens(config, "create", "idle")
    listed = tokens(config, "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["crm-sync", "idle"]
    assert "last used" in lines[0] and "never used" in lines[1]
    as_json = tokens(config, "list", "--json")
    rows = json.loads(as_json.output)
    assert [(t["name"], t["revoked_at"]) for t in rows] == [("crm-sync", None), ("idle", None)]
    assert rows[0]["last_used_at"] is not None and rows[1]["last_used_at"] is None
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    for output in (listed.output, as_json.output):
        assert token not in output and token[3:20] not in output and token_hash not in output


def test_revoke_stops_a_token_and_its_name_can_be_used_again(config: Config, store: Store) -> None:
    token = tokens(config, "create", "crm-sync").output.splitlines()[-1]
    r = tokens(config, "revoke", "crm-sync")
    assert r.exit_code == 0 and "revoked crm-sync" in r.output
    assert api_tokens.token_name(store, token) is None
    assert json.loads(tokens(config, "list", "--json").output)[0]["revoked_at"] is not None
    again = tokens(config, "revoke", "crm-sync")
    assert again.exit_code == 2 and "no live token named 'crm-sync'" in again.output
    # Rotating: a new token under the old name; the old one stays dead.
    new = tokens(config, "create", "crm-sync").output.splitlines()[-1]
    assert api_tokens.token_name(store, new) == "crm-sync"
    assert api_tokens.token_name(store, token) is None


def test_bad_and_taken_names_are_refused(config: Config, store: Store) -> None:
    for name in ("", "a b", "x" * 41, "ünï", "a/b"):
        r = tokens(config, "create", name)
        assert r.exit_code == 2 and "token name" in r.output, name
    assert stored_rows(store) == []
    tokens(config, "create", "crm-sync")
    r = tokens(config, "create", "crm-sync")
    assert r.exit_code == 2 and "already a token named 'crm-sync'" in r.output
    assert len(stored_rows(store)) == 1
    with pytest.raises(ApiTokenError):
        api_tokens.create_token(store, "crm-sync")
    with pytest.raises(NotFoundError, match="crm-sync"):
        api_tokens.revoke_token(store, "nobody")


def test_token_lookup_refuses_lookalikes(store: Store) -> None:
    token = api_tokens.create_token(store, "robot")
    assert api_tokens.token_name(store, token) == "robot"
    for wrong in ("", token + "x", token[:-1], token.upper(), token[3:], f" {token}", "dg_"):
        assert api_tokens.token_name(store, wrong) is None, wrong


# ---- the API with a revoked token -----------------------------------------------------------


def test_a_revoked_token_is_refused_at_once(client: TestClient, store: Store) -> None:
    token = api_tokens.create_token(store, "robot")
    body = {"email": "eve@example.com", "confirmed": True}
    assert client.get(f"{API}/subscribers", headers=bearer(token)).status_code == 200
    api_tokens.revoke_token(store, "robot")
    r = client.post(f"{API}/subscribers", json=body, headers=bearer(token))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert everyone(store) == []


# ---- logs -----------------------------------------------------------------------------------


def _calls(client: TestClient | httpx.Client, token: str) -> None:
    good, wrong = bearer(token), bearer(token + "x")
    client.get(f"{API}/subscribers", headers=good)
    client.post(f"{API}/subscribers", json={"email": "x@example.com", "confirmed": True},
                headers=good)  # fmt: skip
    client.post(f"{API}/subscribers", json={"email": "bad"}, headers=good)
    client.get(f"{API}/subscribers", headers=wrong)
    client.get(f"{API}/subscribers?access_token={token}")
    client.get(f"{API}/digests/2026-11-26/status?token={token}", headers=good)


def server_side(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records of the server: not the test's HTTP client's own (httpx logs every URL
    it is asked to fetch, query string and all)."""
    return [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]


def test_no_log_record_carries_the_token(
    client: TestClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    token = api_tokens.create_token(store, "robot")
    with caplog.at_level(logging.DEBUG):
        _calls(client, token)
    assert any("refused" in r.getMessage() for r in caplog.records)  # something was logged
    for record in server_side(caplog):
        assert token not in record.getMessage() and token[3:] not in record.getMessage()


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/api/v1/subscribers?access_token=dg_abcDEF123_-xyz789", "/api/v1/subscribers?access_token=dg_..."),  # noqa: E501
        ("/api/v1/x?a=1&t=dg_abcDEF123_-xyz789&b=2", "/api/v1/x?a=1&t=dg_...&b=2"),
        ("/archive/2026-11-26/12-big_dg_tanks", "/archive/2026-11-26/12-big_dg_tanks"),
    ],
)  # fmt: skip
def test_the_access_log_filter_hides_api_tokens_in_query_strings(path: str, logged: str) -> None:
    args = ("192.0.2.1:5000", "GET", path, "1.1", 401)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == f'192.0.2.1:5000 - "GET {logged} HTTP/1.1" 401'


@pytest.fixture
def served(cfg: Config, store: Store) -> Iterator[str]:
    """The app under a real uvicorn with its access log on, logging through the root logger
    (log_config=None), where caplog listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(create_app(cfg, store), log_config=None, access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield url
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_uvicorns_access_log_never_carries_the_token(
    served: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    token = api_tokens.create_token(store, "robot")
    with caplog.at_level(logging.INFO), httpx.Client(base_url=served) as http:
        _calls(http, token)
        assert http.get(f"{API}/subscribers", headers=bearer(token)).status_code == 200
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) >= 7, access
    assert any("access_token=dg_..." in line for line in access), access
    for record in server_side(caplog):
        assert token not in record.getMessage() and token[3:] not in record.getMessage()
