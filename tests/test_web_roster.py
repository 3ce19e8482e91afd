"""The editor's subscriber desk (issue #17): the index's counts and search (address or name,
any case, % and _ taken literally, a page at a time), one subscriber's record and deliveries
with their bounces and complaints, and the actions (unsubscribe, resubscribe through a new
confirmation, remove), each behind the sign-in and the session's CSRF token. Through the
test client on real SQLite and PostgreSQL, with the real aiosmtpd server catching the mail;
the browser side is test_browser_roster.py."""

from __future__ import annotations

import dataclasses
import re
import socket
import warnings
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from httpx import Response

from digest.config import Config
from digest.jobs import sending
from digest.model import Digest
from digest.store import Store
from digest.subscribers import new_subscriber
from digest.web import create_app

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPTestServer
from .test_send import parse, text_of
from .test_web import BASE, cfg_fixture, compose_sample, link, path_of  # noqa: F401
from .test_web_editor import login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

INDEX = "/editor/subscribers"
NEXT_DAY = "2026-11-27"


@pytest.fixture(name="client")
def client_fixture(cfg: Config, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        yield c


def add(
    store: Store,
    cfg: Config,
    email: str,
    name: str | None = None,
    sections: str | None = None,
    status: str = "active",
) -> int:
    store.upsert_subscribers([new_subscriber(email, name, sections, cfg.section_names)], status)
    found = store.find_subscriber(email)
    assert found is not None
    return found.id


def post(client: TestClient, path: str, data: dict[str, str]) -> Response:
    r: Response = client.post(path, data=data, follow_redirects=False)
    return r


def found_ids(html: str) -> list[int]:
    """The subscribers a page of the index lists, in order."""
    return [int(n) for n in re.findall(r'<a href="/editor/subscribers/(\d+)">', html)]


def search(client: TestClient, **query: str) -> list[int]:
    r = client.get(INDEX, params=query)
    assert r.status_code == 200
    return found_ids(r.text)


def state_of(store: Store, sub_id: int) -> str:
    sub = store.get_subscriber(sub_id)
    assert sub is not None
    return sub.status


def send(store: Store, cfg: Config, date: str) -> None:
    result = sending.send(store, cfg, sending.SendRequest(date, transport="smtp"))
    assert result.complete, result.summary


# ---- the sign-in --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", INDEX),
        ("get", f"{INDEX}/1"),
        ("post", f"{INDEX}/1/unsubscribe"),
        ("post", f"{INDEX}/1/resubscribe"),
        ("post", f"{INDEX}/1/remove"),
    ],
)
def test_the_desk_needs_a_signed_in_editor(
    client: TestClient,
    store: Store,
    cfg: Config,
    smtp_server: SMTPTestServer,
    method: str,
    path: str,
) -> None:
    sub_id = add(store, cfg, "ana@example.com", "Ana", status="unsubscribed")
    assert sub_id == 1
    r = client.request(method, path, data={"sure": "yes"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/editor/login?")
    assert "ana@example.com" not in r.text
    sub = store.get_subscriber(sub_id)
    assert sub is not None and sub.status == "unsubscribed"
    assert smtp_server.messages == []


def test_the_editor_pages_link_to_the_desk(client: TestClient) -> None:
    login(client)
    assert f'<a href="{INDEX}">Subscribers</a>' in client.get("/editor/").text


# ---- the index ----------------------------------------------------------------------------


def test_search_by_address_or_name_in_any_case_with_wildcards_taken_literally(
    client: TestClient, store: Store, cfg: Config
) -> None:
    ana = add(store, cfg, "ana@lopez.example.com", "Ana")
    bob = add(store, cfg, "bob@example.com", "Roberto LOPEZ")
    under = add(store, cfg, "under_score@example.com")
    carla = add(store, cfg, "carla@example.com", "Carla 100% Sure")
    dave = add(store, cfg, "dave@example.net", "Dave")
    login(client)
    assert search(client) == [ana, bob, under, carla, dave]
    assert search(client, q="lopez") == [ana, bob]  # an address part and a name part
    assert search(client, q="LoPeZ") == [ana, bob]
    assert search(client, q="  roberto ") == [bob]
    assert search(client, q="EXAMPLE.NET") == [dave]
    assert search(client, q="_") == [under]  # not "any one character"
    assert search(client, q="%") == [carla]  # not "anything"
    assert search(client, q="a%e") == []
    assert search(client, q="r_s") == [under]
    assert search(client, q="nobody") == []
    assert "No subscriber matches." in client.get(INDEX, params={"q": "nobody"}).text


def test_search_narrowed_by_state_and_section(
    client: TestClient, store: Store, cfg: Config
) -> None:
    space = add(store, cfg, "space@example.com", sections="Space")
    every = add(store, cfg, "every@example.com")
    nuclear = add(store, cfg, "nuclear@example.com", sections="Nuclear")
    gone = add(store, cfg, "gone@example.com", sections="Space", status="unsubscribed")
    login(client)
    assert search(client, status="active") == [space, every, nuclear]
    assert search(client, status="unsubscribed") == [gone]
    assert search(client, section="Space") == [space, every, gone]  # every section counts
    assert search(client, section="Space", status="active", q="SPACE") == [space]
    r = client.get(INDEX, params={"status": "nonsense"})
    assert r.status_code == 400 and "nonsense" in r.text
    assert client.get(INDEX, params={"section": "Nope"}).status_code == 400
    assert client.get(INDEX, params={"after": "x"}).status_code == 400


def count_of(html: str, key: str, value: str) -> int:
    found = re.search(
        rf'{key}={re.escape(quote(value))}">{re.escape(value)}</a></th><td class="n">(\d+)</td>',
        html,
    )
    assert found, f"no count for {key}={value}"
    return int(found.group(1))


def test_the_index_counts_by_state_and_by_section(
    client: TestClient, store: Store, cfg: Config
) -> None:
    add(store, cfg, "a@example.com", sections="Space")
    add(store, cfg, "b@example.com", sections="Space;Nuclear")
    add(store, cfg, "c@example.com")  # every section
    add(store, cfg, "d@example.com", sections="Space", status="unsubscribed")
    add(store, cfg, "e@example.com", status="bounced")
    add(store, cfg, "f@example.com", status="pending")
    login(client)
    html = client.get(INDEX).text
    states = {s: count_of(html, "status", s) for s in ("active", "unsubscribed", "bounced")}
    assert states == {"active": 3, "unsubscribed": 1, "bounced": 1}
    assert count_of(html, "status", "pending") == 1
    assert count_of(html, "status", "paused") == 0  # every state is listed, empty or not
    assert re.search(r'<th scope="row">all</th><td class="n">6</td>', html)
    assert count_of(html, "section", "Space") == 3  # the active ones only
    assert count_of(html, "section", "Nuclear") == 2
    others = [s for s in cfg.section_names if s not in ("Space", "Nuclear")]
    assert others and all(count_of(html, "section", s) == 1 for s in others)


def test_pages_follow_one_another_with_no_repeats(
    client: TestClient, store: Store, cfg: Config
) -> None:
    rows = [
        new_subscriber(f"reader{n:03}@example.com", f"Reader {n}", None, cfg.section_names)
        for n in range(120)
    ]
    store.upsert_subscribers(rows)
    add(store, cfg, "other@example.org", "Somebody Else")
    login(client)
    seen: list[int] = []
    url: str | None = f"{INDEX}?q=READER"
    pages = 0
    while url is not None:
        html = client.get(url).text
        seen += found_ids(html)
        pages += 1
        found = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url is not None:
            assert "q=READER" in url  # the search goes on to the next page
    assert pages == 3
    assert len(seen) == len(set(seen)) == 120
    every = {s.id for s in store.list_subscribers() if s.email.startswith("reader")}
    assert set(seen) == every


# ---- one subscriber -----------------------------------------------------------------------


@pytest.fixture(name="history")
def history_fixture(store: Store, cfg: Config, smtp_server: SMTPTestServer) -> dict[str, int]:
    """Two days sent to three subscribers; then a hard bounce, a soft one and a complaint."""
    ids = {
        "ana": add(store, cfg, "ana@example.com", "Ana", sections="Space"),
        "ben": add(store, cfg, "ben@example.com", "Ben"),
        "cy": add(store, cfg, "cy@example.com"),
    }
    day: Digest = compose_sample(store, cfg)
    send(store, cfg, SAMPLE_DAY)
    store.save_digest(dataclasses.replace(day, date=NEXT_DAY))
    send(store, cfg, NEXT_DAY)
    for date, who, kind in [
        (SAMPLE_DAY, "ana", "hard"),
        (NEXT_DAY, "ana", "soft"),
        (NEXT_DAY, "ben", "complaint"),
    ]:
        target = store.bounce_target(ids[who], date)
        assert target is not None
        if kind == "complaint":
            store.record_complaint(target, "abuse <b>report</b>")
        else:
            store.record_bounce(target, kind == "hard", f"5.1.1 <{who}> unknown", 3)
    return ids


def history_rows(html: str) -> list[tuple[str, str, str]]:
    """(date, state, what came back) of each row of the deliveries table."""
    body = html.split('<table class="status history">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]  # past the header
    out = []
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        event = re.sub(r"<[^>]+>", "", cells[2]).strip()
        out.append((re.sub(r"<[^>]+>", "", cells[0]).strip(), cells[1].strip(), event))
    return out


def test_a_subscriber_page_shows_the_record_and_the_deliveries_newest_first(
    client: TestClient, store: Store, cfg: Config, history: dict[str, int]
) -> None:
    login(client)
    html = client.get(f"{INDEX}/{history['ana']}").text
    assert '<h1 class="address">ana@example.com</h1>' in html
    assert "<dt>Name</dt><dd>Ana</dd>" in html
    assert "<dt>Sections</dt><dd>Space</dd>" in html
    assert "<dt>Hard bounces in a row</dt><dd>1</dd>" in html
    assert re.search(r"<dt>Added</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d UTC</dd>", html)
    assert history_rows(html) == [
        (NEXT_DAY, "sent", "soft bounce"),
        (SAMPLE_DAY, "failed", "hard bounce"),
    ]
    assert "1 hard bounce, 1 soft bounce, 0 complaints" in html
    assert "5.1.1 &lt;ana&gt; unknown" in html  # the reply, without its mark
    assert "bounce: 5.1.1" not in html

    html = client.get(f"{INDEX}/{history['ben']}").text
    assert "<dt>Sections</dt><dd>every section</dd>" in html
    assert 'class="badge state-unsubscribed">unsubscribed<' in html  # a complaint stops it
    assert history_rows(html) == [(NEXT_DAY, "sent", "complaint"), (SAMPLE_DAY, "sent", "")]
    assert "abuse &lt;b&gt;report&lt;/b&gt;" in html and "<b>report" not in html

    html = client.get(f"{INDEX}/{history['cy']}").text
    assert history_rows(html) == [(NEXT_DAY, "sent", ""), (SAMPLE_DAY, "sent", "")]
    assert "0 hard bounces, 0 soft bounces, 0 complaints" in html


def test_an_unknown_subscriber_is_404_inside_the_editor(client: TestClient) -> None:
    login(client)
    r = client.get(f"{INDEX}/999")
    assert r.status_code == 404 and "no subscriber 999" in r.text
    assert 'href="/editor/subscribers"' in r.text and "Sign out" in r.text
    assert client.get(f"{INDEX}/abc").status_code == 400


def test_names_and_addresses_are_escaped(client: TestClient, store: Store, cfg: Config) -> None:
    sub_id = add(store, cfg, "x@example.com", '<script>alert("x")</script>')
    login(client)
    for html in (client.get(INDEX, params={"q": "script"}).text, client.get(INDEX).text):
        assert sub_id in found_ids(html)
        assert "<script>" not in html and "&lt;script&gt;alert(" in html
    html = client.get(f"{INDEX}/{sub_id}").text
    assert "<script>" not in html and "&lt;script&gt;alert(" in html
    html = client.get(INDEX, params={"q": '"><script>'}).text  # the search box's value
    assert "<script>" not in html and 'value="&#34;&gt;&lt;script&gt;"' in html


# ---- actions ------------------------------------------------------------------------------


def test_unsubscribe_changes_the_state_and_nothing_else(
    client: TestClient, store: Store, cfg: Config, history: dict[str, int]
) -> None:
    cy = history["cy"]
    bounced = add(store, cfg, "bounced@example.com", status="bounced")
    csrf = login(client)
    people = {s.id: s for s in store.list_subscribers()}
    ledger = {i: store.subscriber_deliveries(i) for i in people}
    r = post(client, f"{INDEX}/{cy}/unsubscribe", {"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{INDEX}/{cy}?notice=unsubscribed"
    now = {s.id: s for s in store.list_subscribers()}
    assert now[cy] == dataclasses.replace(people[cy], status="unsubscribed")
    assert {i: s for i, s in now.items() if i != cy} == {i: s for i, s in people.items() if i != cy}
    assert {i: store.subscriber_deliveries(i) for i in people} == ledger
    html = client.get(r.headers["location"]).text
    assert "Unsubscribed: no more digests go to this address." in html
    assert f'action="{INDEX}/{cy}/unsubscribe"' not in html  # nothing left to stop

    r = post(client, f"{INDEX}/{cy}/unsubscribe", {"csrf": csrf})
    assert r.headers["location"] == f"{INDEX}/{cy}?notice=unchanged"
    r = post(client, f"{INDEX}/{bounced}/unsubscribe", {"csrf": csrf})
    assert r.headers["location"] == f"{INDEX}/{bounced}?notice=unchanged"
    assert store.get_subscriber(bounced) == people[bounced]  # stays bounced: the reason stays


def confirmation_path(server: SMTPTestServer, address: str) -> str:
    [got] = server.received_by(address)
    msg = parse(got.data)
    assert msg["Subject"].startswith("Confirm your subscription")
    return path_of(link(text_of(msg), "confirm"))


@pytest.mark.parametrize("before", ["unsubscribed", "bounced", "paused"])
def test_resubscribe_mails_a_confirmation_and_only_confirming_makes_active(
    client: TestClient, store: Store, cfg: Config, smtp_server: SMTPTestServer, before: str
) -> None:
    sub_id = add(store, cfg, "back@example.com", "Back", sections="Space", status=before)
    other = add(store, cfg, "other@example.com", status=before)
    csrf = login(client)
    was = store.get_subscriber(sub_id)
    assert was is not None
    r = post(client, f"{INDEX}/{sub_id}/resubscribe", {"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{INDEX}/{sub_id}?notice=confirming"
    assert store.get_subscriber(sub_id) == dataclasses.replace(was, status="pending")
    html = client.get(r.headers["location"]).text
    assert "A confirmation email is on its way." in html
    assert 'class="badge state-pending">pending<' in html

    path = confirmation_path(smtp_server, "back@example.com")
    assert client.get(path).status_code == 200
    assert state_of(store, sub_id) == "pending"
    assert client.post(path).status_code == 200
    now = store.get_subscriber(sub_id)
    assert now is not None and (now.status, now.name, now.sections) == (
        "active",
        "Back",
        ("Space",),
    )
    assert client.post(path).status_code == 200  # pressed again: nothing more happens
    other_now = store.get_subscriber(other)
    assert other_now is not None and other_now.status == before
    assert smtp_server.received_by("other@example.com") == []


def test_an_active_subscriber_is_not_resubscribed(
    client: TestClient, store: Store, cfg: Config, smtp_server: SMTPTestServer
) -> None:
    sub_id = add(store, cfg, "here@example.com")
    csrf = login(client)
    r = post(client, f"{INDEX}/{sub_id}/resubscribe", {"csrf": csrf})
    assert r.status_code == 409 and "here@example.com is active" in r.text
    assert f'href="{INDEX}/{sub_id}"' in r.text
    assert state_of(store, sub_id) == "active"
    assert smtp_server.messages == []


def test_a_confirmation_that_cannot_be_sent_changes_nothing(cfg: Config, store: Store) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = dataclasses.replace(cfg, smtp_port=closed)
    sub_id = add(store, cfg, "gone@example.com", status="unsubscribed")
    with TestClient(create_app(down, store), base_url=BASE) as client:
        csrf = login(client)
        r = post(client, f"{INDEX}/{sub_id}/resubscribe", {"csrf": csrf})
    assert r.status_code == 502 and "No confirmation was sent, and nothing changed" in r.text
    assert state_of(store, sub_id) == "unsubscribed"


def test_resubscribing_counts_against_the_mailboxs_confirmation_limit(
    client: TestClient, store: Store, cfg: Config, smtp_server: SMTPTestServer
) -> None:
    sub_id = add(store, cfg, "often@example.com", status="unsubscribed")
    csrf = login(client)
    for _ in range(3):
        r = post(client, f"{INDEX}/{sub_id}/resubscribe", {"csrf": csrf})
        assert r.headers["location"] == f"{INDEX}/{sub_id}?notice=confirming"
    r = post(client, f"{INDEX}/{sub_id}/resubscribe", {"csrf": csrf})
    assert r.status_code == 429 and "its share of confirmation emails" in r.text
    assert len(smtp_server.received_by("often@example.com")) == 3
    assert state_of(store, sub_id) == "pending"


def test_remove_needs_the_box_ticked_and_forgets_the_subscriber_and_deliveries(
    client: TestClient, store: Store, history: dict[str, int]
) -> None:
    ana = history["ana"]
    csrf = login(client)
    ledger = {i: store.subscriber_deliveries(i) for i in history.values()}
    assert all(len(v) == 2 for v in ledger.values())
    for data in ({"csrf": csrf}, {"csrf": csrf, "sure": "no"}):
        r = post(client, f"{INDEX}/{ana}/remove", data)
        assert r.status_code == 400 and "Nothing was removed" in r.text
        assert store.get_subscriber(ana) is not None
    assert {i: store.subscriber_deliveries(i) for i in history.values()} == ledger

    r = post(client, f"{INDEX}/{ana}/remove", {"csrf": csrf, "sure": "yes"})
    assert r.status_code == 303 and r.headers["location"] == f"{INDEX}?notice=removed"
    assert store.get_subscriber(ana) is None and store.subscriber_deliveries(ana) == []
    rest = {i: store.subscriber_deliveries(i) for i in history.values() if i != ana}
    assert rest == {i: v for i, v in ledger.items() if i != ana}
    html = client.get(r.headers["location"]).text
    assert "were removed" in html and ana not in found_ids(html)
    assert client.get(f"{INDEX}/{ana}").status_code == 404
    assert post(client, f"{INDEX}/{ana}/remove", {"csrf": csrf, "sure": "yes"}).status_code == 404


@pytest.mark.parametrize("action", ["unsubscribe", "resubscribe", "remove"])
@pytest.mark.parametrize("token", [None, "", "0" * 43, "wrong"])
def test_an_action_without_the_sessions_token_changes_nothing(
    client: TestClient,
    store: Store,
    cfg: Config,
    smtp_server: SMTPTestServer,
    action: str,
    token: str | None,
) -> None:
    sub_id = add(store, cfg, "paused@example.com", status="paused")  # each action would act
    login(client)
    data = {"sure": "yes"} if token is None else {"sure": "yes", "csrf": token}
    r = post(client, f"{INDEX}/{sub_id}/{action}", data)
    assert r.status_code == 403 and "The form expired" in r.text
    sub = store.get_subscriber(sub_id)
    assert sub is not None and sub.status == "paused"
    assert smtp_server.messages == []
