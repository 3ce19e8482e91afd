"""The subscriber pages through the web app's test client: unsubscribing (one-click and by
hand) from links in digests really sent through the aiosmtpd server, forged tokens,
preferences, and subscribing with confirmation and its rate limit. Helpers and fixtures come
from test_web.py."""

from __future__ import annotations

import dataclasses
import warnings

from digest.config import Config
from digest.jobs import sending
from digest.model import Digest
from digest.store import Store
from digest.tokens import make_token
from digest.web import create_app
from digest.web.security import RateLimiter

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPTestServer
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


# ---- unsubscribe --------------------------------------------------------------------------


def test_one_click_post_from_a_real_message_unsubscribes_at_once(
    client: TestClient, store: Store, cfg: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    add_subscriber(store, cfg, "reader@example.com")
    msg = send_real_digest(store, cfg, smtp_server, "reader@example.com")
    url = one_click_url(msg)
    assert url.startswith(f"{BASE}/u/")
    client.cookies.clear()
    r = client.post(
        path_of(url),
        content=b"List-Unsubscribe=One-Click",
        follow_redirects=False,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    assert status_of(store, "reader@example.com") == "unsubscribed"
    # Done twice (mail providers retry): still 200, still unsubscribed.
    assert client.post(path_of(url), data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_get_shows_a_button_and_changes_nothing_the_post_unsubscribes(
    client: TestClient, store: Store, cfg: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    add_subscriber(store, cfg, "reader@example.com")
    msg = send_real_digest(store, cfg, smtp_server, "reader@example.com")
    url = link(text_of(msg), "u")
    page = client.get(path_of(url))
    assert page.status_code == 200 and f'action="{path_of(url)}"' in page.text
    assert status_of(store, "reader@example.com") == "active"
    assert client.post(path_of(url)).status_code == 200
    assert status_of(store, "reader@example.com") == "unsubscribed"


def _forgeries(secret: str, sub_id: int) -> list[tuple[str, str]]:
    good_u = make_token(secret, "unsubscribe", sub_id)
    return [
        ("u", good_u[:-2] + ("AA" if not good_u.endswith("AA") else "BB")),  # altered signature
        ("u", make_token("another secret", "unsubscribe", sub_id)),  # signed with another key
        ("u", make_token(secret, "preferences", sub_id)),  # a token for another action
        ("p", make_token(secret, "unsubscribe", sub_id)),
        ("confirm", make_token(secret, "confirm", sub_id, ttl=10, now=1_000_000)),  # expired
        ("u", "garbage"),
    ]


def test_forged_altered_or_expired_tokens_change_nothing(
    client: TestClient, store: Store, cfg: Config
) -> None:
    sub_id = add_subscriber(store, cfg, "reader@example.com", status="pending")
    for kind, token in _forgeries(SECRET, sub_id):
        for method in ("get", "post"):
            r = client.request(method, f"/{kind}/{token}", data={"action": "unsubscribe"})
            assert r.status_code == 400, (kind, token, method)
            assert "Nothing was changed" in r.text
    assert status_of(store, "reader@example.com") == "pending"
    expired = client.get(f"/confirm/{_forgeries(SECRET, sub_id)[4][1]}")
    assert "expired" in expired.text


# ---- preferences --------------------------------------------------------------------------


def test_preferences_choose_sections_pause_resume_and_leave(
    client: TestClient, store: Store, cfg: Config
) -> None:
    sub_id = add_subscriber(store, cfg, "reader@example.com")
    url = f"/p/{make_token(SECRET, 'preferences', sub_id)}"
    assert client.get(url).status_code == 200

    r = client.post(
        url, data={"action": "save", "sections": ["Space", "Nuclear"]}, follow_redirects=False
    )
    assert r.status_code == 303
    sub = store.get_subscriber(sub_id)
    assert sub is not None and sub.sections == ("Nuclear", "Space")
    assert "Saved." in client.get(r.headers["location"]).text
    client.post(url, data={"action": "save", "sections": list(cfg.section_names)})
    assert store.get_subscriber(sub_id).sections is None  # type: ignore[union-attr]
    assert client.post(url, data={"action": "save"}).status_code == 400  # none chosen
    assert client.post(url, data={"action": "save", "sections": "Gossip"}).status_code == 400

    client.post(url, data={"action": "pause"})
    assert status_of(store, "reader@example.com") == "paused"
    client.post(url, data={"action": "resume"})
    assert status_of(store, "reader@example.com") == "active"
    client.post(url, data={"action": "unsubscribe"})
    assert status_of(store, "reader@example.com") == "unsubscribed"


def test_a_paused_subscriber_gets_no_digest(
    client: TestClient, store: Store, cfg: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    sub_id = add_subscriber(store, cfg, "reader@example.com")
    add_subscriber(store, cfg, "other@example.com")
    client.post(f"/p/{make_token(SECRET, 'preferences', sub_id)}", data={"action": "pause"})
    sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp"))
    assert smtp_server.received_by("reader@example.com") == []
    assert len(smtp_server.received_by("other@example.com")) == 1


# ---- subscribe and confirm ----------------------------------------------------------------


def _confirm_link(server: SMTPTestServer, address: str) -> str:
    [got] = server.received_by(address)
    msg = parse(got.data)
    assert msg["Subject"].startswith("Confirm your subscription")
    return path_of(link(text_of(msg), "confirm"))


def test_subscribe_then_confirm_activates_one_subscriber(
    client: TestClient, store: Store, smtp_server: SMTPTestServer
) -> None:
    r = client.post(
        "/subscribe", data={"email": "New@Example.com", "name": "Ana", "sections": ["Space"]}
    )
    assert r.status_code == 200 and "Check your inbox" in r.text
    sub = store.find_subscriber("new@example.com")
    assert sub is not None and (sub.status, sub.name, sub.sections) == (
        "pending",
        "Ana",
        ("Space",),
    )
    path = _confirm_link(smtp_server, "new@example.com")
    assert client.get(path).status_code == 200
    assert status_of(store, "new@example.com") == "pending"  # a GET changes nothing
    assert client.post(path).status_code == 200
    assert status_of(store, "new@example.com") == "active"
    assert [s.email for s in store.list_subscribers()] == ["new@example.com"]


def test_subscribe_answers_alike_for_new_and_known_addresses(
    client: TestClient, store: Store, cfg: Config, smtp_server: SMTPTestServer
) -> None:
    add_subscriber(store, cfg, "known@example.com", sections="Nuclear")
    answers = [
        client.post("/subscribe", data={"email": address, "name": "Mallory"})
        for address in ("known@example.com", "fresh@example.com")
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].text.replace("known", "X") == answers[1].text.replace("fresh", "X")
    known = store.find_subscriber("known@example.com")
    assert known is not None and (known.name, known.sections, known.status) == (
        None,
        ("Nuclear",),
        "active",
    )  # a stranger's form changed nothing
    client.post("/subscribe", data={"email": "fresh@example.com"})
    assert len(store.list_subscribers()) == 2  # no duplicate


def test_confirmation_goes_to_the_outbox_without_smtp(config: Config, store: Store) -> None:
    cfg = dataclasses.replace(config, secret_key=SECRET, base_url=BASE)
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        assert c.post("/subscribe", data={"email": "a@example.com"}).status_code == 200
    [eml] = (cfg.outbox / "confirmations").glob("*.eml")
    assert f"{BASE}/confirm/" in text_of(parse(eml.read_bytes()))


def test_subscribe_is_rate_limited_per_client(
    config: Config, store: Store, smtp_server: SMTPTestServer
) -> None:
    cfg = web_config(config, smtp_server, subscribe_rate_limit=2)
    application = create_app(cfg, store)
    with (
        TestClient(application, client=("192.0.2.1", 5000)) as one,
        TestClient(application, client=("192.0.2.2", 5000)) as two,
    ):
        codes = [
            one.post("/subscribe", data={"email": f"a{i}@example.com"}).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]
        assert two.post("/subscribe", data={"email": "b@example.com"}).status_code == 200
    assert store.find_subscriber("a2@example.com") is None


def test_rate_limiter_window_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0])
    assert [limiter.allow("k") for _ in range(3)] == [True, True, False]
    assert limiter.allow("other")
    now[0] = 10.5
    assert limiter.allow("k")
    assert RateLimiter(0, 10.0).allow("k")  # 0: no limit
