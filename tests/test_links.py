"""The links in emails, through the real web app: an old link never acts on a newer subscriber
(ids are never reused, on a fresh database and on one upgraded from an older revision), a
confirmation works once, a token has exactly one spelling, and whatever address /subscribe is
given, it stores a valid subscriber or shows the form with an error: never a 500, never a
half-made row, and every error page carries the security headers. Helpers and fixtures come
from test_web.py."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from digest.cli import cli
from digest.config import Config
from digest.errors import TokenError
from digest.jobs import sending
from digest.jobs import subscribers as jobs
from digest.model import Digest
from digest.store import Store
from digest.store.migrate import _config, head
from digest.tokens import make_token, read_token
from digest.web import create_app

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPServerFactory, SMTPTestServer
from .test_send import SECRET, parse, text_of
from .test_web import (  # with the cfg, client and day fixtures
    BASE,
    add_subscriber,
    cfg_fixture,  # noqa: F401
    client_fixture,  # noqa: F401
    day_fixture,  # noqa: F401
    link,
    one_click_url,
    path_of,
    send_real_digest,
    status_of,
    web_config,
)

with warnings.catch_warnings():
    # starlette now prefers httpx2; httpx (the dev extra) still works, so don't nag each run.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


# ---- ids are never reused (issue 11, item 9) -------------------------------------------------


def test_old_links_of_a_removed_subscriber_never_act_on_a_newcomer(
    client: TestClient, store: Store, cfg: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    add_subscriber(store, cfg, "first@example.com")
    old_id = add_subscriber(store, cfg, "old@example.com")  # the highest id
    msg = send_real_digest(store, cfg, smtp_server, "old@example.com")
    one_click, prefs = path_of(one_click_url(msg)), path_of(link(text_of(msg), "p"))
    jobs.remove(store, "old@example.com")
    assert jobs.add_subscriber(store, cfg, "new@example.com", None, None) == "added"
    newcomer = store.find_subscriber("new@example.com")
    assert newcomer is not None and newcomer.id > old_id

    # The removed subscriber's links, replayed: they name nobody any more.
    page = client.get(prefs)
    assert page.status_code == 404 and "new@example.com" not in page.text
    assert client.post(prefs, data={"action": "pause"}).status_code == 404
    assert client.post(prefs, data={"action": "unsubscribe"}).status_code == 404
    r = client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "new@example.com" not in r.text
    assert status_of(store, "new@example.com") == "active"
    assert status_of(store, "first@example.com") == "active"


def _at_revision(url: str, revision: str) -> None:
    """A database made by an older digest: three subscribers with a delivery each."""
    engine = create_engine(url)
    stamp = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)
        for i in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO subscribers (email, name, sections, status, hard_bounces, "
                    "created_at, updated_at) VALUES (:e, :n, :s, 'active', 0, :t, :t)"
                ),
                {"e": f"s{i}@example.com", "n": f"Reader {i}", "s": '["Space"]', "t": stamp},
            )
        conn.execute(
            text("INSERT INTO sends (date, started_at) VALUES ('2026-01-01', :t)"), {"t": stamp}
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (send_id, subscriber_id, state, attempts, updated_at) "
                "SELECT 1, id, 'sent', 1, :t FROM subscribers"
            ),
            {"t": stamp},
        )
    engine.dispose()


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_an_upgraded_database_keeps_every_row_and_never_reuses_an_id(
    database_url: str, revision: str
) -> None:
    _at_revision(database_url, revision)
    r = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIGEST_DATABASE_URL": database_url})
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"db: {revision} -> {head()}"
    store = Store(database_url)
    try:
        subs = store.list_subscribers()
        assert [(s.id, s.email, s.name, s.sections) for s in subs] == [
            (i, f"s{i}@example.com", f"Reader {i}", ("Space",)) for i in (1, 2, 3)
        ]
        with store.engine.connect() as conn:
            pairs = conn.execute(text("SELECT subscriber_id FROM deliveries ORDER BY 1"))
            assert [p for (p,) in pairs] == [1, 2, 3]
            found = inspect(conn)
            assert "ix_subscribers_status" in {i["name"] for i in found.get_indexes("subscribers")}
            assert {"editor_sessions", "rate_events"} <= set(found.get_table_names())
            fks = found.get_foreign_keys("deliveries")
            assert {(f["referred_table"], tuple(f["constrained_columns"])) for f in fks} == {
                ("sends", ("send_id",)),
                ("subscribers", ("subscriber_id",)),
            }
        # The references are still enforced, and an address is still one subscriber.
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO deliveries (send_id, subscriber_id, state, attempts, "
                    "updated_at) VALUES (1, 99, 'sent', 1, '2026-01-01 00:00:00')"
                )
            )
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO subscribers (email, status, hard_bounces, created_at, "
                    "updated_at) VALUES ('s1@example.com', 'active', 0, :t, :t)"
                ),
                {"t": "2026-01-01 00:00:00"},
            )
        store.remove_subscriber(3)  # the highest id
        store.add_pending(jobs.make_subscriber("s4@example.com", None, None, ()))
        newcomer = store.find_subscriber("s4@example.com")
        assert newcomer is not None and newcomer.id > 3
    finally:
        store.close()


# ---- a confirmation works once (item 10) -----------------------------------------------------


def _confirm_path(server: SMTPTestServer, address: str) -> str:
    got = server.received_by(address)[-1]
    return path_of(link(text_of(parse(got.data)), "confirm"))


def test_a_confirmation_works_once_and_never_brings_back_an_unsubscribed_address(
    client: TestClient, store: Store, cfg: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    client.post("/subscribe", data={"email": "reader@example.com"})
    confirm = _confirm_path(smtp_server, "reader@example.com")
    r = client.post(confirm)
    assert r.status_code == 200 and "You are subscribed" in r.text
    again = client.post(confirm)
    assert again.status_code == 200 and "already subscribed" in again.text
    assert "Nothing was changed" in again.text and "<form" not in again.text
    assert status_of(store, "reader@example.com") == "active"

    # The reader leaves with the one-click link of a real digest, then the old confirmation
    # is pressed again (a mail scanner, a stray click, or someone who kept the link).
    sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp"))
    *_, got = smtp_server.received_by("reader@example.com")  # after the confirmation
    msg = parse(got.data)
    assert client.post(path_of(one_click_url(msg)), data={"List-Unsubscribe": "One-Click"})
    assert status_of(store, "reader@example.com") == "unsubscribed"
    for method in ("get", "post"):
        page = client.request(method, confirm)
        assert "has unsubscribed" in page.text and "nothing was changed" in page.text
        assert "<form" not in page.text
    assert client.post(confirm).status_code == 409
    assert status_of(store, "reader@example.com") == "unsubscribed"


@pytest.mark.parametrize("state", ["bounced", "paused"])
def test_a_confirmation_changes_nothing_for_a_bounced_or_paused_subscriber(
    client: TestClient, store: Store, cfg: Config, state: str
) -> None:
    sub_id = add_subscriber(store, cfg, "reader@example.com", status="pending")
    store.set_status(sub_id, state)
    confirm = f"/confirm/{make_token(SECRET, 'confirm', sub_id, ttl=3600)}"
    page = client.get(confirm)
    assert page.status_code == 200 and "<form" not in page.text
    r = client.post(confirm)
    assert r.status_code == (409 if state == "bounced" else 200)
    assert "nothing was changed" in r.text.lower()
    assert status_of(store, "reader@example.com") == state


# ---- one spelling per token (item 14) --------------------------------------------------------


def _respellings(token: str) -> Iterator[str]:
    kind_id, expires, sig = token.split(".")
    yield token + "="
    yield token + "=="
    yield f"{kind_id}.{expires}.{sig}===="
    # The last of 22 base64 characters carries 4 bits that decode to nothing: the same bytes.
    yield f"{kind_id}.{expires}.{sig[:-1]}{B64[B64.index(sig[-1]) ^ 1]}"
    yield f"{kind_id}.{expires}.{sig[:11]}\n{sig[11:]}"  # a character base64 would skip
    yield f"{kind_id[0]}{int(kind_id[1:], 16):x}.{expires}.{sig}"  # the id unpadded
    yield f"{kind_id}.{expires.upper() if expires != '0' else '00'}.{sig}"


@pytest.mark.parametrize("ttl", [None, 3600])
def test_a_token_is_accepted_in_exactly_the_spelling_make_token_writes(ttl: int | None) -> None:
    token = make_token(SECRET, "confirm", 42, ttl=ttl, now=1_000_000.0)
    assert read_token(SECRET, token, "confirm", now=1_000_001.0) == 42
    for other in _respellings(token):
        assert other != token
        with pytest.raises(TokenError):
            read_token(SECRET, other, "confirm", now=1_000_001.0)


def test_a_padded_link_changes_nothing_in_the_web_app(
    client: TestClient, store: Store, cfg: Config
) -> None:
    sub_id = add_subscriber(store, cfg, "reader@example.com")
    for kind, action in (("u", "unsubscribe"), ("p", "preferences")):
        padded = make_token(SECRET, action, sub_id) + "="
        r = client.post(f"/{kind}/{padded}", data={"action": "unsubscribe"})
        assert r.status_code == 400 and "Nothing was changed" in r.text
    assert status_of(store, "reader@example.com") == "active"


# ---- /subscribe with any address (item 13) ---------------------------------------------------


@pytest.fixture(name="open_cfg")
def open_cfg_fixture(cfg: Config) -> Config:
    return dataclasses.replace(cfg, subscribe_rate_limit=1000)


ADDRESSES = [
    "üser@example.com",  # a non-ASCII mailbox name: needs SMTPUTF8
    "Ünïcode.Ünä@exämple.com",
    "user@exämple.com",  # stored in its ASCII (IDNA) form
    "x@例え.テスト",
    "用户@例子.广告",
    "user@ex ample.com",
    "user@-bad-.example",
    "user@xn--.example",
    "user@exa\u200dmple.com",  # a zero-width joiner, not a valid IDN
    "user@\u0301example.com",  # a domain that starts with a combining mark
    "\U0001f600@example.com",
    "user@example.com\u2028Bcc: x@evil.example",
]


def _assert_headers(r: object) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    for name in SECURITY_HEADERS:
        assert name in headers, (name, r)


def test_any_address_is_stored_valid_or_refused_with_the_form(
    open_cfg: Config, store: Store, smtp_server: SMTPTestServer
) -> None:
    with TestClient(create_app(open_cfg, store), base_url=BASE) as c:
        for address in ADDRESSES:
            before = {s.email for s in store.list_subscribers()}
            r = c.post("/subscribe", data={"email": address, "name": "Zoë"})
            _assert_headers(r)
            assert r.status_code in (200, 400), (address, r.status_code, r.text)
            added = {s.email for s in store.list_subscribers()} - before
            if r.status_code == 400:
                assert added == set(), address
                assert 'name="email"' in r.text  # the form again, with what was typed
                continue
            [stored] = added
            assert stored == jobs.normalize_email(stored)  # valid, and in its stored form
            assert stored.rpartition("@")[2].isascii()  # the domain as SMTP carries it
            [got] = smtp_server.received_by(stored)
            assert _confirm_path(smtp_server, stored).startswith("/confirm/")
            assert parse(got.data)["To"]


def test_an_address_the_server_cannot_carry_leaves_no_row(
    config: Config, store: Store, smtp_server_factory: SMTPServerFactory
) -> None:
    server = smtp_server_factory(smtputf8=False)
    cfg = web_config(config, server)
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        r = c.post("/subscribe", data={"email": "üser@example.com"})
        assert r.status_code == 400 and "cannot send email to this address" in r.text
        _assert_headers(r)
        assert c.post("/subscribe", data={"email": "plain@example.com"}).status_code == 200
    assert [s.email for s in store.list_subscribers()] == ["plain@example.com"]
    assert server.messages and all(m.rcpt_tos == ["plain@example.com"] for m in server.messages)


def test_an_unexpected_error_is_a_500_page_with_the_security_headers_and_no_row(
    cfg: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(jobs, "deliver_one", broken)
    app = create_app(cfg, store)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        r = c.post("/subscribe", data={"email": "reader@example.com"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in r.text and "secret internals" not in r.text
    _assert_headers(r)
    assert r.headers["cache-control"] == "no-store"
    assert store.list_subscribers() == []  # the pending row was taken back
