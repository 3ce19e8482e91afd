"""The JSON API's subscriber routes (/api/v1/subscribers) through the web app's test client,
on a real store (SQLite and PostgreSQL) with the real aiosmtpd server receiving the
confirmation emails. The fixtures and helpers here are shared with test_api_digests.py and
test_api_tokens.py."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from digest.config import Config
from digest.jobs import api_tokens
from digest.store import Store
from digest.web import create_app

from .smtp_server import SMTPTestServer
from .test_send import parse, text_of
from .test_web import BASE, add_subscriber, link, path_of, status_of, web_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

API = "/api/v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(name="cfg")
def cfg_fixture(config: Config, smtp_server: SMTPTestServer) -> Config:
    return web_config(config, smtp_server)


@pytest.fixture(name="client")
def client_fixture(cfg: Config, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        yield c


@pytest.fixture(name="token")
def token_fixture(store: Store) -> str:
    return api_tokens.create_token(store, "robot")


@pytest.fixture(name="auth")
def auth_fixture(token: str) -> dict[str, str]:
    return bearer(token)


def everyone(store: Store) -> list[tuple[str, str | None, tuple[str, ...] | None, str]]:
    """The whole list as it stands, to show that a refused call changed nothing."""
    return [(s.email, s.name, s.sections, s.status) for s in store.list_subscribers()]


# ---- add ------------------------------------------------------------------------------------


def test_a_confirmed_add_is_active_at_once_and_adding_again_changes_nothing(
    client: TestClient, store: Store, auth: dict[str, str], smtp_server: SMTPTestServer
) -> None:
    body = {"email": "Ana@Example.com", "name": "Ana", "sections": ["space"], "confirmed": True}
    r = client.post(f"{API}/subscribers", json=body, headers=auth)
    assert r.status_code == 201
    made = r.json()
    assert made == {
        "id": made["id"],
        "email": "ana@example.com",
        "name": "Ana",
        "sections": ["Space"],
        "status": "active",
    }
    assert smtp_server.messages == []  # consent given: no confirmation email
    again = client.post(
        f"{API}/subscribers",
        json={"email": "ana@example.com", "name": "Someone Else", "confirmed": True},
        headers=auth,
    )
    assert again.status_code == 200
    assert again.json() == made
    assert everyone(store) == [("ana@example.com", "Ana", ("Space",), "active")]


def test_an_add_without_confirmed_is_pending_and_mails_the_confirmation_link(
    client: TestClient, store: Store, auth: dict[str, str], smtp_server: SMTPTestServer
) -> None:
    r = client.post(f"{API}/subscribers", json={"email": "new@example.com"}, headers=auth)
    assert r.status_code == 201
    assert r.json()["status"] == "pending"
    [got] = smtp_server.received_by("new@example.com")
    confirm = path_of(link(text_of(parse(got.data)), "confirm"))
    # The same link the subscribe form sends: pressing it makes the subscriber active.
    assert client.post(confirm).status_code == 200
    assert status_of(store, "new@example.com") == "active"
    # Added again (pending or not): nothing changes, no second email.
    again = client.post(f"{API}/subscribers", json={"email": "new@example.com"}, headers=auth)
    assert again.status_code == 200 and again.json()["status"] == "active"
    assert len(smtp_server.received_by("new@example.com")) == 1


def test_an_unsubscribed_address_is_never_brought_back_by_an_add(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    add_subscriber(store, cfg, "gone@example.com", status="unsubscribed")
    r = client.post(
        f"{API}/subscribers", json={"email": "gone@example.com", "confirmed": True}, headers=auth
    )
    assert r.status_code == 200 and r.json()["status"] == "unsubscribed"
    assert status_of(store, "gone@example.com") == "unsubscribed"


def test_confirmations_per_mailbox_are_limited_as_for_the_form(
    client: TestClient, store: Store, auth: dict[str, str], smtp_server: SMTPTestServer
) -> None:
    """victim+1@, v.ictim@... are one mailbox: past its share, 429, nothing added or sent."""
    addresses = [f"victim+{i}@example.com" for i in range(5)]
    codes = [
        client.post(f"{API}/subscribers", json={"email": a}, headers=auth).status_code
        for a in addresses
    ]
    assert codes == [201, 201, 201, 429, 429]
    assert [e for e, *_ in everyone(store)] == addresses[:3]
    assert len(smtp_server.messages) == 3
    r = client.post(f"{API}/subscribers", json={"email": addresses[4]}, headers=auth)
    assert r.json()["error"] == "too_many_requests"


def test_a_confirmation_that_cannot_be_sent_leaves_no_subscriber(
    client: TestClient, store: Store, auth: dict[str, str], smtp_server: SMTPTestServer
) -> None:
    smtp_server.fail("refused@example.com", "550 5.1.1 no such mailbox")
    r = client.post(f"{API}/subscribers", json={"email": "refused@example.com"}, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "email"
    smtp_server.fail("later@example.com", "451 4.3.0 try again later")
    r = client.post(f"{API}/subscribers", json={"email": "later@example.com"}, headers=auth)
    assert r.status_code == 503 and r.json()["error"] == "unavailable"
    assert everyone(store) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address"}, "email"),
        ({"email": ""}, "email"),
        ({}, "email"),
        ({"email": 12}, "email"),
        ({"email": "a@example.com", "name": "Ana\r\nBcc: x@example.com"}, "name"),
        ({"email": "a@example.com", "name": "x" * 1001}, "name"),
        ({"email": "a@example.com", "sections": ["Gardening"]}, "sections"),
        ({"email": "a@example.com", "sections": "Space"}, "sections"),
        ({"email": "a@example.com", "confirmed": "yes"}, "confirmed"),
        ({"email": "a@example.com", "status": "active"}, "status"),
        ([], "body"),
    ],
)
def test_a_bad_body_is_422_naming_the_field_and_adds_nothing(
    client: TestClient,
    store: Store,
    auth: dict[str, str],
    smtp_server: SMTPTestServer,
    body: Any,
    field: str,
) -> None:
    r = client.post(f"{API}/subscribers", json=body, headers=auth)
    assert r.status_code == 422
    assert r.json()["error"] == "invalid" and r.json()["field"] == field
    assert r.json()["reason"]
    assert everyone(store) == [] and smtp_server.messages == []


def test_a_body_that_is_not_json_is_422_naming_the_body(
    client: TestClient, store: Store, auth: dict[str, str]
) -> None:
    r = client.post(
        f"{API}/subscribers",
        content=b'{"email": ',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["field"] == "body"
    assert everyone(store) == []


# ---- get, change, unsubscribe, remove, export -----------------------------------------------


def test_get_by_id_or_by_address_and_404_for_unknown_ones(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    sub_id = add_subscriber(store, cfg, "ana@example.com", sections="Space")
    expected = {
        "id": sub_id,
        "email": "ana@example.com",
        "name": None,
        "sections": ["Space"],
        "status": "active",
    }
    for ref in (str(sub_id), "ana@example.com", "ANA@example.com"):
        r = client.get(f"{API}/subscribers/{ref}", headers=auth)
        assert r.status_code == 200 and r.json() == expected
    for ref in (str(sub_id + 1), "bob@example.com", "nobody", "-1", "9" * 40):
        r = client.get(f"{API}/subscribers/{ref}", headers=auth)
        assert r.status_code == 404, ref
        assert r.headers["content-type"] == "application/json"
        assert r.json()["error"] == "not_found"


def test_patch_changes_name_and_sections_and_leaves_the_rest(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    sub_id = add_subscriber(store, cfg, "ana@example.com", sections="Space")
    url = f"{API}/subscribers/{sub_id}"
    r = client.patch(url, json={"name": "Ana Lima"}, headers=auth)
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["sections"]) == ("Ana Lima", ["Space"])
    r = client.patch(url, json={"sections": ["nuclear", "Space"]}, headers=auth)
    assert (r.json()["name"], r.json()["sections"]) == ("Ana Lima", ["Nuclear", "Space"])
    # Every section is stored as every section (those added later too).
    every = list(cfg.section_names)
    assert client.patch(url, json={"sections": every}, headers=auth).json()["sections"] is None
    assert client.patch(url, json={"name": None}, headers=auth).json()["name"] is None
    sub = store.get_subscriber(sub_id)
    assert sub is not None and (sub.name, sub.sections, sub.status) == (None, None, "active")


def test_patch_refuses_bad_fields_by_name_and_unknown_subscribers(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    sub_id = add_subscriber(store, cfg, "ana@example.com", sections="Space")
    before = everyone(store)
    for body, field in (
        ({"sections": ["Gardening"]}, "sections"),
        ({"name": "a\nb"}, "name"),
        ({"status": "active"}, "status"),
        ({"email": "b@example.com"}, "email"),
    ):
        r = client.patch(f"{API}/subscribers/{sub_id}", json=body, headers=auth)
        assert r.status_code == 422 and r.json()["field"] == field, body
    assert everyone(store) == before
    r = client.patch(f"{API}/subscribers/bob@example.com", json={"name": "B"}, headers=auth)
    assert r.status_code == 404


def test_unsubscribe_twice_is_the_same_as_once(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    sub_id = add_subscriber(store, cfg, "ana@example.com")
    url = f"{API}/subscribers/ana@example.com/unsubscribe"
    first = client.post(url, headers=auth)
    second = client.post(url, headers=auth)
    assert first.status_code == second.status_code == 200
    assert (
        first.json()
        == second.json()
        == {
            "id": sub_id,
            "email": "ana@example.com",
            "name": None,
            "sections": None,
            "status": "unsubscribed",
        }
    )
    assert (
        client.post(f"{API}/subscribers/{sub_id + 1}/unsubscribe", headers=auth).status_code == 404
    )
    # A name can still be corrected; the state stays.
    r = client.patch(f"{API}/subscribers/{sub_id}", json={"name": "Ana"}, headers=auth)
    assert (r.json()["name"], r.json()["status"]) == ("Ana", "unsubscribed")


def test_delete_forgets_the_subscriber(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    sub_id = add_subscriber(store, cfg, "ana@example.com")
    keep = add_subscriber(store, cfg, "bob@example.com")
    r = client.delete(f"{API}/subscribers/{sub_id}", headers=auth)
    assert r.status_code == 204 and r.content == b""
    assert store.get_subscriber(sub_id) is None and store.get_subscriber(keep) is not None
    assert client.delete(f"{API}/subscribers/{sub_id}", headers=auth).status_code == 404
    assert client.get(f"{API}/subscribers/{sub_id}", headers=auth).status_code == 404


# ---- the list and its pages -----------------------------------------------------------------


def test_pages_cover_the_list_once_with_no_repeats_or_gaps(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    ids = [add_subscriber(store, cfg, f"r{i:02}@example.com") for i in range(23)]
    seen: list[int] = []
    pages = 0
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 5}
        if after is not None:
            params["after"] = after
        r = client.get(f"{API}/subscribers", params=params, headers=auth)
        assert r.status_code == 200
        page = r.json()
        assert len(page["subscribers"]) <= 5
        seen += [s["id"] for s in page["subscribers"]]
        pages += 1
        if page["next"] is None:
            break
        after = page["next"]
        if pages == 2:  # rows removed meanwhile shift nothing after them
            client.delete(f"{API}/subscribers/{ids[0]}", headers=auth)
    assert pages == 5
    assert seen == ids


def test_the_list_filters_by_state_and_section(
    client: TestClient, store: Store, cfg: Config, auth: dict[str, str]
) -> None:
    space = add_subscriber(store, cfg, "space@example.com", sections="Space")
    nuclear = add_subscriber(store, cfg, "nuclear@example.com", sections="Nuclear")
    every = add_subscriber(store, cfg, "every@example.com")
    pending = add_subscriber(store, cfg, "pending@example.com", sections="Space", status="pending")

    def ids(**params: str) -> list[int]:
        r = client.get(f"{API}/subscribers", params=params, headers=auth)
        assert r.status_code == 200
        return [s["id"] for s in r.json()["subscribers"]]

    assert ids() == [space, nuclear, every, pending]
    assert ids(status="pending") == [pending]
    assert ids(section="space") == [space, every, pending]
    assert ids(section="Space", status="active") == [space, every]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=sleeping", "status"),
        ("section=Gardening", "section"),
        ("after=abc", "after"),
        ("after=-5", "after"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "limit"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(
    client: TestClient, auth: dict[str, str], query: str, field: str
) -> None:
    r = client.get(f"{API}/subscribers?{query}", headers=auth)
    assert r.status_code == 422
    assert r.json()["field"] == field


# ---- without a token ------------------------------------------------------------------------

SUBSCRIBER_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/subscribers", None),
    ("POST", "/subscribers", {"email": "eve@example.com", "confirmed": True}),
    ("POST", "/subscribers", {"email": "bad"}),
    ("GET", "/subscribers/ana@example.com", None),
    ("PATCH", "/subscribers/ana@example.com", {"name": "Eve"}),
    ("POST", "/subscribers/ana@example.com/unsubscribe", None),
    ("DELETE", "/subscribers/ana@example.com", None),
    ("GET", "/subscribers/ana@example.com/export", None),
    ("GET", "/subscribers/ana@example.com/deliveries", None),
]


@pytest.mark.parametrize(("method", "path", "body"), SUBSCRIBER_CALLS)
def test_every_subscriber_call_without_a_live_token_is_401_and_changes_nothing(
    client: TestClient,
    store: Store,
    cfg: Config,
    token: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    add_subscriber(store, cfg, "ana@example.com", sections="Space")
    before = everyone(store)
    other = api_tokens.create_token(store, "revoked-one")
    api_tokens.revoke_token(store, "revoked-one")
    for headers in (
        {},
        bearer(token[:-1] + ("A" if token[-1] != "A" else "B")),  # wrong
        bearer(other),  # revoked
        {"Authorization": f"Basic {token}"},  # not the bearer scheme
        {"Authorization": "Bearer"},
    ):
        r = client.request(method, API + path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "unauthorized"
        assert token not in r.text and other not in r.text
    # Nor is a token read from anywhere but the header.
    r = client.request(method, f"{API}{path}?access_token={token}&token={token}", json=body)
    assert r.status_code == 401
    assert everyone(store) == before
    # The same call with the token works (the refusals were about the token alone).
    assert client.request(method, API + path, json=body, headers=bearer(token)).status_code < 500
