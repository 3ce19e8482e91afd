"""The web side's accounts and limits, kept in the database: signing out ends an editor's
session for good (and every process serving the site agrees), and confirmation emails are
limited per mailbox however its address is spelled, and per client, across processes, without
the page ever saying whether an email was sent. Helpers and fixtures come from test_web.py and
test_web_editor.py."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import warnings

import pytest
from sqlalchemy import text

from digest.config import Config
from digest.jobs import accounts
from digest.jobs.subscribers import CONFIRMATIONS_PER_MAILBOX, mailbox_of
from digest.store import Store
from digest.store.tables import EditorSessionRow, RateEventRow
from digest.web import create_app
from digest.web.security import SESSION_COOKIE, EditorAuth

from .smtp_server import SMTPTestServer
from .test_send import SECRET
from .test_web import (  # with the cfg and client fixtures
    BASE,
    PASSWORD,
    cfg_fixture,  # noqa: F401
    client_fixture,  # noqa: F401
    web_config,
)
from .test_web_editor import login

with warnings.catch_warnings():
    # starlette now prefers httpx2; httpx (the dev extra) still works, so don't nag each run.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _session_cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value, "no session cookie"
    return value


def _opens_editor(client: TestClient, cookie: str) -> bool:
    client.cookies.set(SESSION_COOKIE, cookie, path="/editor")
    return client.get("/editor/", follow_redirects=False).status_code == 200


def _count(store: Store, table: type[EditorSessionRow] | type[RateEventRow]) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table.__tablename__}")).scalar_one())


# ---- signing out ends the session (issue 11, item 11) ----------------------------------------


def test_logout_ends_the_session_even_for_a_kept_copy_of_the_cookie(
    client: TestClient, cfg: Config, store: Store
) -> None:
    csrf = login(client)
    cookie = _session_cookie(client)
    r = client.post("/editor/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/editor/login"
    # The browser forgets the cookie; whoever copied it puts it back: it opens nothing.
    assert not _opens_editor(client, cookie)
    r = client.post("/editor/2026-11-26/compose", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/editor/login")
    assert _count(store, EditorSessionRow) == 0


def test_a_session_is_shared_by_every_process_and_ended_for_all(cfg: Config, store: Store) -> None:
    other_store = Store(cfg.database_url)  # another process serving the same site
    try:
        with (
            TestClient(create_app(cfg, store), base_url=BASE) as one,
            TestClient(create_app(cfg, other_store), base_url=BASE) as two,
        ):
            csrf = login(one)
            cookie = _session_cookie(one)
            assert _opens_editor(two, cookie)
            assert one.post("/editor/logout", data={"csrf": csrf}).status_code == 200
            assert not _opens_editor(two, cookie)
    finally:
        other_store.close()


def test_an_expired_session_opens_nothing_and_is_cleaned_up(
    client: TestClient, store: Store
) -> None:
    auth = EditorAuth(SECRET, PASSWORD)
    # A well-signed cookie whose session the database holds as expired.
    cookie = auth.new_session()
    sid = auth.session_id(cookie)
    assert sid is not None
    store.add_session(sid, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert not _opens_editor(client, cookie)
    # A well-signed cookie with no session recorded at all (never signed in).
    assert not _opens_editor(client, auth.new_session())
    login(client)  # signing in clears the expired rows away
    assert _count(store, EditorSessionRow) == 1
    assert store.session_editor(sid) is None


def test_sessions_are_recorded_with_their_editor(store: Store) -> None:
    sid = secrets.token_urlsafe(18)
    accounts.open_session(store, sid, 60)
    assert accounts.session_editor(store, sid) == "editor"
    accounts.close_session(store, sid)
    assert accounts.session_editor(store, sid) is None


# ---- confirmation emails per mailbox and per client (item 12) --------------------------------


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("victim@example.com", "victim@example.com"),
        ("victim+1@example.com", "victim@example.com"),
        ("victim+a+b@example.com", "victim@example.com"),
        ("v.i.c.t.i.m+x@gmail.com", "victim@gmail.com"),
        ("vic.tim@googlemail.com", "victim@gmail.com"),
        ("Vic.Tim@GMail.com", "victim@gmail.com"),
        ("vic.tim@example.com", "vic.tim@example.com"),  # dots matter elsewhere
        ("vic.tim+x@gmail.com.evil.example", "vic.tim@gmail.com.evil.example"),
    ],
)
def test_mailbox_folding(address: str, mailbox: str) -> None:
    assert mailbox_of(address) == mailbox


def _page(r: object) -> str:
    """The answer with the typed address taken out: what the page tells the sender."""
    text = r.text  # type: ignore[attr-defined]
    return re.sub(r"[\w.+-]+@[\w.-]+", "ADDRESS", text)


def test_one_mailbox_gets_only_a_few_confirmations_from_many_clients_and_processes(
    config: Config, store: Store, smtp_server: SMTPTestServer
) -> None:
    cfg = web_config(config, smtp_server)
    other_store = Store(cfg.database_url)  # a second process serving the same site
    apps = [create_app(cfg, store), create_app(cfg, other_store)]
    answers = []
    try:
        for n in range(8):  # 8 client addresses, 5 requests each (their whole allowance)
            with TestClient(apps[n % 2], base_url=BASE, client=(f"192.0.2.{n}", 5000)) as c:
                for i in range(5):
                    address = (
                        f"victim+{n}x{i}@gmail.com" if i % 2 else f"v.ictim+{n}x{i}@googlemail.com"
                    )
                    answers.append(c.post("/subscribe", data={"email": address}))
    finally:
        other_store.close()
    assert {a.status_code for a in answers} == {200}
    assert len({_page(a) for a in answers}) == 1  # the same answer, sent or not
    got = [m for m in smtp_server.messages if mailbox_of(m.rcpt_tos[0]) == "victim@gmail.com"]
    assert len(got) == CONFIRMATIONS_PER_MAILBOX
    # Only what was confirmed by email is on the list: one pending row per email sent.
    assert len(store.list_subscribers("pending")) == CONFIRMATIONS_PER_MAILBOX


def test_the_per_client_limit_holds_across_processes(
    config: Config, store: Store, smtp_server: SMTPTestServer
) -> None:
    cfg = web_config(config, smtp_server, subscribe_rate_limit=2)
    other_store = Store(cfg.database_url)
    try:
        one, two = create_app(cfg, store), create_app(cfg, other_store)
        client = ("192.0.2.7", 5000)
        with (
            TestClient(one, base_url=BASE, client=client) as a,
            TestClient(two, base_url=BASE, client=client) as b,
        ):
            assert a.post("/subscribe", data={"email": "a1@example.com"}).status_code == 200
            assert b.post("/subscribe", data={"email": "a2@example.com"}).status_code == 200
            assert a.post("/subscribe", data={"email": "a3@example.com"}).status_code == 429
            assert b.post("/subscribe", data={"email": "a4@example.com"}).status_code == 429
    finally:
        other_store.close()
    assert {s.email for s in store.list_subscribers()} == {"a1@example.com", "a2@example.com"}


def test_rate_events_slide_out_of_the_window_and_are_pruned(store: Store) -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

    def hit(key: str, seconds: float) -> bool:
        at = start + dt.timedelta(seconds=seconds)
        return store.take_rate_slot("test", key, 2, 60.0, at=at)

    assert [hit("k", 0), hit("k", 1), hit("k", 2)] == [True, True, False]
    assert hit("other", 3)
    assert _count(store, RateEventRow) == 3  # the refused hit was not counted
    assert hit("k", 60.5) and not hit("k", 60.8)  # the first slid out, the second not yet
    assert _count(store, RateEventRow) == 3  # the hit at 0 is gone from the table
    assert hit("k", 200) and _count(store, RateEventRow) == 1  # all the old ones pruned


def test_a_limit_of_zero_counts_nothing(store: Store) -> None:
    assert all(accounts.allow(store, "subscribe", "k", 0, 60.0) for _ in range(10))
    assert _count(store, RateEventRow) == 0
