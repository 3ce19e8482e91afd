"""The JSON API's digests and deliveries (/api/v1/digests, .../deliveries, a subscriber's
history and export), and its OpenAPI schema: on the sample day, composed and really sent
through the aiosmtpd server, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import Config
from digest.jobs import ingest, sending
from digest.store import Store
from digest.web import create_app

from .conftest import SAMPLE_DAY, SAMPLES
from .test_api import (  # with the cfg, client, token and auth fixtures
    API,
    auth_fixture,  # noqa: F401
    bearer,
    cfg_fixture,  # noqa: F401
    client_fixture,  # noqa: F401
    token_fixture,  # noqa: F401
)
from .test_approval import approvals
from .test_web import BASE, add_subscriber, compose_sample

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

OTHER_DAY = "2026-11-27"  # no stories, no digest


def send_day(store: Store, cfg: Config) -> None:
    result = sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp"))
    assert result.complete, result.summary


def cli_json(cfg: Config, *args: str) -> Any:
    env = {"DIGEST_DATABASE_URL": cfg.database_url, "DIGEST_BASE_URL": BASE}
    r = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


# ---- digests --------------------------------------------------------------------------------


def test_compose_then_get_answer_what_digest_compose_json_prints(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    ingest.ingest(store, [SAMPLES])
    assert client.get(f"{API}/digests/{SAMPLE_DAY}", headers=auth).status_code == 404
    composed = client.post(f"{API}/digests/{SAMPLE_DAY}/compose", headers=auth)
    assert composed.status_code == 200
    assert composed.json()["date"] == SAMPLE_DAY and composed.json()["sections"]
    got = client.get(f"{API}/digests/{SAMPLE_DAY}", headers=auth)
    assert got.status_code == 200 and got.json() == composed.json()
    # The same function makes both: the CLI composes the same digest again.
    assert cli_json(cfg, "compose", "--date", SAMPLE_DAY, "--json") == got.json()
    story = got.json()["sections"][0]["stories"][0]
    assert story["url"].startswith(f"{BASE}/archive/{SAMPLE_DAY}/")
    days = client.get(f"{API}/digests", headers=auth).json()["digests"]
    assert [(d["date"], d["started"], d["counts"]["sent"]) for d in days] == [(SAMPLE_DAY, None, 0)]


def test_compose_is_refused_for_a_day_without_stories_and_once_sent(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    r = client.post(f"{API}/digests/{OTHER_DAY}/compose", headers=auth)
    assert r.status_code == 409 and "no stories" in r.json()["reason"]
    compose_sample(store, cfg)
    add_subscriber(store, cfg, "ana@example.com")
    send_day(store, cfg)
    r = client.post(f"{API}/digests/{SAMPLE_DAY}/compose", headers=auth)
    assert r.status_code == 409 and "already being sent" in r.json()["reason"]


def test_approve_and_hold_follow_digest_approve_and_record_the_token_name(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    for action in ("approve", "hold"):
        r = client.post(f"{API}/digests/{OTHER_DAY}/{action}", headers=auth)
        assert r.status_code == 404 and "compose it first" in r.json()["reason"]
    assert approvals(store) == []
    compose_sample(store, cfg)
    r = client.post(f"{API}/digests/{SAMPLE_DAY}/hold", headers=auth)
    assert r.status_code == 200
    assert r.json() == {"date": SAMPLE_DAY, "before": "approved", "after": "held"}
    assert approvals(store) == [(SAMPLE_DAY, "held", "api:robot")]
    status = client.get(f"{API}/digests/{SAMPLE_DAY}/status", headers=auth).json()
    assert status["approval"] == "held"
    r = client.post(f"{API}/digests/{SAMPLE_DAY}/approve", headers=auth)
    again = client.post(f"{API}/digests/{SAMPLE_DAY}/approve", headers=auth)
    assert r.json() == {"date": SAMPLE_DAY, "before": "held", "after": "approved"}
    assert again.json() == {"date": SAMPLE_DAY, "before": "approved", "after": "approved"}
    assert approvals(store) == [(SAMPLE_DAY, "approved", "api:robot")]


def test_status_is_digest_status_json(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    assert client.get(f"{API}/digests/{OTHER_DAY}/status", headers=auth).status_code == 404
    compose_sample(store, cfg)
    for address in ("ana@example.com", "bob@example.com"):
        add_subscriber(store, cfg, address)
    before = client.get(f"{API}/digests/{SAMPLE_DAY}/status", headers=auth).json()
    assert before == {**dict.fromkeys(("queued", "sent", "failed", "deferred", "skipped"), 0),
                      "approval": "approved"}  # fmt: skip
    send_day(store, cfg)
    after = client.get(f"{API}/digests/{SAMPLE_DAY}/status", headers=auth).json()
    assert after["sent"] == 2
    assert after == cli_json(cfg, "status", "--date", SAMPLE_DAY, "--json")


@pytest.mark.parametrize("date", ["2026-13-01", "26-11-2026", "2026-11-6", "today"])
def test_a_malformed_date_is_422_naming_the_date(
    client: TestClient, auth: dict[str, str], date: str
) -> None:
    for method, path in [
        ("GET", ""),
        ("POST", "/compose"),
        ("POST", "/approve"),
        ("POST", "/hold"),
        ("GET", "/status"),
        ("GET", "/deliveries"),
    ]:
        r = client.request(method, f"{API}/digests/{date}{path}", headers=auth)
        assert r.status_code == 422, (method, path)
        assert r.json()["field"] == "date"


# ---- deliveries -----------------------------------------------------------------------------


def test_a_days_deliveries_page_by_page_and_filtered_by_state(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    compose_sample(store, cfg)
    addresses = [f"r{i:02}@example.com" for i in range(7)]
    for address in addresses:
        add_subscriber(store, cfg, address)
    url = f"{API}/digests/{SAMPLE_DAY}/deliveries"
    # Composed, not sent: no deliveries yet; an unknown day is 404.
    assert client.get(url, headers=auth).json() == {"deliveries": [], "next": None}
    assert client.get(f"{API}/digests/{OTHER_DAY}/deliveries", headers=auth).status_code == 404
    send_day(store, cfg)
    seen: list[str] = []
    ids: list[int] = []
    after = ""
    for _ in range(10):
        page = client.get(url, params={"limit": 3, "after": after}, headers=auth).json()
        seen += [d["email"] for d in page["deliveries"]]
        ids += [d["id"] for d in page["deliveries"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert sorted(seen) == addresses and len(set(ids)) == len(ids) == 7
    first = client.get(url, headers=auth).json()["deliveries"][0]
    assert first["date"] == SAMPLE_DAY and first["state"] == "sent" and first["attempts"] == 1
    sent = client.get(url, params={"state": "sent"}, headers=auth).json()["deliveries"]
    assert len(sent) == 7
    assert client.get(url, params={"state": "failed"}, headers=auth).json()["deliveries"] == []
    r = client.get(url, params={"state": "lost"}, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "state"


def test_a_subscribers_history_and_export_and_delete_forgets_their_deliveries(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    compose_sample(store, cfg)
    sub_id = add_subscriber(store, cfg, "ana@example.com", sections="Space")
    add_subscriber(store, cfg, "bob@example.com")
    send_day(store, cfg)
    history = client.get(f"{API}/subscribers/ana@example.com/deliveries", headers=auth).json()
    assert [(d["date"], d["email"], d["state"]) for d in history["deliveries"]] == [
        (SAMPLE_DAY, "ana@example.com", "sent")
    ]
    export = client.get(f"{API}/subscribers/{sub_id}/export", headers=auth)
    assert export.status_code == 200
    assert export.json()["subscriber"]["email"] == "ana@example.com"
    assert export.json()["deliveries"] == history["deliveries"]
    assert client.delete(f"{API}/subscribers/{sub_id}", headers=auth).status_code == 204
    page = client.get(f"{API}/digests/{SAMPLE_DAY}/deliveries", headers=auth).json()
    assert [d["email"] for d in page["deliveries"]] == ["bob@example.com"]
    for path in ("deliveries", "export"):
        r = client.get(f"{API}/subscribers/{sub_id}/{path}", headers=auth)
        assert r.status_code == 404 and r.json()["error"] == "not_found"


# ---- without a token; the schema ------------------------------------------------------------

DIGEST_CALLS = [
    ("GET", "/digests"),
    ("GET", f"/digests/{SAMPLE_DAY}"),
    ("POST", f"/digests/{SAMPLE_DAY}/compose"),
    ("POST", f"/digests/{SAMPLE_DAY}/approve"),
    ("POST", f"/digests/{SAMPLE_DAY}/hold"),
    ("GET", f"/digests/{SAMPLE_DAY}/status"),
    ("GET", f"/digests/{SAMPLE_DAY}/deliveries"),
    ("GET", "/no/such/route"),
]


def test_every_digest_call_without_a_live_token_is_401_and_changes_nothing(
    client: TestClient, store: Store, cfg: Config, token: str
) -> None:
    compose_sample(store, cfg)
    version = store.digest_version(SAMPLE_DAY)
    for method, path in DIGEST_CALLS:
        for headers in ({}, bearer("dg_" + "x" * 43), {"Authorization": token}):
            r = client.request(method, API + path, headers=headers)
            assert r.status_code == 401, (method, path, headers)
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.headers["content-type"] == "application/json"
    assert approvals(store) == [] and store.digest_version(SAMPLE_DAY) == version
    # With the token, the same calls work.
    for method, path in DIGEST_CALLS[:-1]:
        r = client.request(method, API + path, headers=bearer(token))
        assert r.status_code == 200, (method, path, r.text)


def test_errors_are_json_never_the_html_pages(client: TestClient, auth: dict[str, str]) -> None:
    for method, path in [("GET", "/no/such/route"), ("PUT", "/subscribers"), ("GET", "/digests/x")]:
        r = client.request(method, API + path, headers=auth)
        assert r.status_code in (404, 405, 422), path
        assert r.headers["content-type"] == "application/json"
        assert "<html" not in r.text.lower() and r.json()["error"]
        assert r.headers["cache-control"] == "no-store"


def test_the_openapi_schema_lists_every_route_and_the_bearer_scheme(
    client: TestClient, cfg: Config
) -> None:
    r = client.get(f"{API}/openapi.json")  # the schema needs no token
    assert r.status_code == 200
    schema = r.json()
    routes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert routes == {
        ("GET", "/subscribers"),
        ("POST", "/subscribers"),
        ("GET", "/subscribers/{ref}"),
        ("PATCH", "/subscribers/{ref}"),
        ("DELETE", "/subscribers/{ref}"),
        ("POST", "/subscribers/{ref}/unsubscribe"),
        ("GET", "/subscribers/{ref}/export"),
        ("GET", "/subscribers/{ref}/deliveries"),
        ("GET", "/digests"),
        ("GET", "/digests/{date}"),
        ("POST", "/digests/{date}/compose"),
        ("POST", "/digests/{date}/approve"),
        ("POST", "/digests/{date}/hold"),
        ("GET", "/digests/{date}/status"),
        ("GET", "/digests/{date}/deliveries"),
    }
    assert schema["servers"] == [{"url": "/api/v1"}]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            assert op["security"] == [{"HTTPBearer": []}], (method, path)
    assert {"NewSubscriberIn", "SubscriberOut", "Error"} <= set(schema["components"]["schemas"])
    # The main app still publishes no schema of its own.
    assert client.get("/openapi.json").status_code == 404


def test_the_api_works_when_approval_is_required(store: Store, cfg: Config, token: str) -> None:
    required = dataclasses.replace(cfg, approval="required")
    compose_sample(store, required)
    with TestClient(create_app(required, store), base_url=BASE) as c:
        status = c.get(f"{API}/digests/{SAMPLE_DAY}/status", headers=bearer(token)).json()
        assert status["approval"] == "pending"
        r = c.post(f"{API}/digests/{SAMPLE_DAY}/approve", headers=bearer(token))
        assert r.json()["before"] == "pending" and r.json()["after"] == "approved"
