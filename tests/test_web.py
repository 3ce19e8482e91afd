"""The web app's routes through its test client, on a real SQLite store in tmp_path, with the
real aiosmtpd server receiving confirmation emails, test copies and the digests whose links
the subscriber pages must honour."""

from __future__ import annotations

import dataclasses
import logging
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from httpx import Response
from markupsafe import escape

from digest import app, sending
from digest.config import Config, load_config
from digest.deliver.message import PREFERENCES_TOKEN, UNSUBSCRIBE_TOKEN
from digest.deliver.variants import Variants
from digest.model import Digest, Section, StoryItem
from digest.store import Store
from digest.subscribers import new_subscriber
from digest.tokens import make_token
from digest.web import create_app
from digest.web.security import EditorAuth, RateLimiter, RedactTokens

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer
from .test_send import SECRET, parse, smtp_config, text_of

with warnings.catch_warnings():
    # starlette now prefers httpx2; httpx (the dev extra) still works, so don't nag each run.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery staple"
BASE = "https://news.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"


# ---- helpers shared with test_browser.py --------------------------------------------------


def web_config(config: Config, server: SMTPTestServer, **changes: object) -> Config:
    """The SMTP test config (links under BASE) with the editor pages on."""
    return smtp_config(config, server, editor_password=PASSWORD, **changes)


def compose_sample(store: Store, config: Config) -> Digest:
    app.ingest(store, [SAMPLES])
    return app.compose_day(store, config, SAMPLE_DAY)


def add_subscriber(
    store: Store, config: Config, address: str, sections: str | None = None, status: str = "active"
) -> int:
    store.upsert_subscribers(
        [new_subscriber(address, None, sections, config.section_names)], status=status
    )
    sub = store.find_subscriber(address)
    assert sub is not None
    return sub.id


def send_real_digest(
    store: Store, cfg: Config, server: SMTPTestServer, address: str
) -> EmailMessage:
    """Send the day's digest for real through the SMTP test server; the message `address`
    received, parsed back from the bytes on the wire."""
    result = sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp"))
    assert result.complete, result.summary
    [got] = server.received_by(address)
    return parse(got.data)


def link(text: str, kind: str) -> str:
    """The first absolute link to /<kind>/<token> in a message body."""
    found = re.search(rf"https?://\S+?/{kind}/[A-Za-z0-9_.-]+", text)
    assert found, f"no /{kind}/ link in:\n{text}"
    return found.group(0)


def one_click_url(msg: EmailMessage) -> str:
    https, _mailto = (p.strip().strip("<>") for p in msg["List-Unsubscribe"].split(","))
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return https


def path_of(url: str) -> str:
    return urlsplit(url).path


def status_of(store: Store, address: str) -> str:
    sub = store.find_subscriber(address)
    assert sub is not None
    return sub.status


# ---- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def cfg(config: Config, smtp_server: SMTPTestServer) -> Config:
    return web_config(config, smtp_server)


@pytest.fixture
def client(cfg: Config, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        yield c


@pytest.fixture
def day(store: Store, cfg: Config) -> Digest:
    return compose_sample(store, cfg)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login_form(client: TestClient, password: str = PASSWORD, **extra: str) -> Response:
    """Fill in the sign-in form as a browser would: GET it, then POST it with its token."""
    csrf = csrf_of(client.get("/editor/login").text)
    data = {"csrf": csrf, "password": password, **extra}
    return client.post("/editor/login", data=data, follow_redirects=False)


def login(client: TestClient) -> str:
    """Sign in; the CSRF token of the new session."""
    assert login_form(client).status_code == 303
    return csrf_of(client.get("/editor/").text)


# ---- headers, escaping, config ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/archive/", "/subscribe", "/no/such/page", "/u/bogus"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp  # no script at all
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["referrer-policy"] == "same-origin"


def test_pages_escape_what_they_show(client: TestClient) -> None:
    r = client.post("/subscribe", data={"email": "<script>alert(1)</script>", "name": "x"})
    assert r.status_code == 400
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text


def test_config_keys_from_the_environment_and_secrets_out_of_repr(tmp_path: Path) -> None:
    env = {
        "DIGEST_EDITOR_PASSWORD": "s3cret-pw",
        "DIGEST_SUBSCRIBE_RATE_LIMIT": "7",
        "DIGEST_SUBSCRIBE_RATE_WINDOW": "60",
    }
    c = load_config(env=env, cwd=tmp_path)
    assert (c.editor_password, c.subscribe_rate_limit, c.subscribe_rate_window) == (
        "s3cret-pw",
        7,
        60.0,
    )
    assert "s3cret-pw" not in repr(c)
    assert load_config(env={}, cwd=tmp_path).editor_password is None


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/u/u0000002a.0.abc?x=1", "/u/...?x=1"),
        ("/confirm/c1.2.x", "/confirm/..."),
        ("/archive/2026-11-26", "/archive/2026-11-26"),
    ],
)
def test_access_log_lines_carry_no_tokens(path: str, logged: str) -> None:
    args = ("192.0.2.1:5000", "POST", path, "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == f'192.0.2.1:5000 - "POST {logged} HTTP/1.1" 200'


# ---- editor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/editor/"),
        ("get", "/editor/login"),
        ("post", "/editor/login"),
        ("get", f"/editor/{SAMPLE_DAY}"),
        ("get", f"/editor/{SAMPLE_DAY}/frame"),
        ("post", f"/editor/{SAMPLE_DAY}/compose"),
    ],
)
def test_editor_pages_are_off_without_a_password(
    config: Config, smtp_server: SMTPTestServer, store: Store, method: str, path: str
) -> None:
    cfg = smtp_config(config, smtp_server)  # no editor_password
    with TestClient(create_app(cfg, store)) as c:
        r = c.request(method, path, data={"password": ""}, follow_redirects=False)
    assert r.status_code == 404


def test_login_sets_a_safe_cookie_and_a_wrong_password_does_not(client: TestClient) -> None:
    r = login_form(client, "wrong")
    assert r.status_code == 401 and "digest_editor=" not in r.headers.get("set-cookie", "")
    assert PASSWORD not in r.text
    # Without the form's token (a cross-site POST), even the right password signs nobody in.
    r = client.post("/editor/login", data={"password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "digest_editor=" not in r.headers.get("set-cookie", "")
    r = login_form(client, next="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/editor/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("digest_editor="))
    cookie = cookie.lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/editor" in cookie


def test_editor_needs_a_valid_session(client: TestClient, cfg: Config) -> None:
    r = client.get("/editor/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/editor/login?next=")
    client.cookies.set("digest_editor", "forged.cookie.value", path="/editor")
    assert client.get("/editor/", follow_redirects=False).status_code == 303


def test_sessions_expire_and_end_when_the_password_changes() -> None:
    auth = EditorAuth(SECRET, PASSWORD)
    cookie = auth.new_session(now=1000.0)
    assert auth.session_id(cookie, now=1001.0) is not None
    assert auth.session_id(cookie, now=1000.0 + 13 * 3600) is None  # expired
    assert EditorAuth(SECRET, "new password").session_id(cookie, now=1001.0) is None
    sid, expires, sig = cookie.split(".")
    assert auth.session_id(f"{sid}.{int(expires, 16) + 9999:x}.{sig}", now=1001.0) is None


def test_editor_forms_refuse_a_missing_or_wrong_csrf_token(
    client: TestClient, store: Store, day: Digest
) -> None:
    login(client)
    for token in ("", "0" * 64):
        r = client.post(f"/editor/{SAMPLE_DAY}/compose", data={"csrf": token})
        assert r.status_code == 403
        r = client.post(f"/editor/{SAMPLE_DAY}/test", data={"csrf": token, "email": "e@x.org"})
        assert r.status_code == 403


def test_overview_lists_digests_with_counts_and_days_without_one(
    client: TestClient, store: Store, cfg: Config, smtp_server: SMTPTestServer
) -> None:
    app.ingest(store, [SAMPLES])
    csrf = login(client)
    page = client.get("/editor/").text
    assert "Days with stories but no digest" in page and f"/editor/{SAMPLE_DAY}/compose" in page
    r = client.post(f"/editor/{SAMPLE_DAY}/compose", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and store.has_digest(SAMPLE_DAY)
    page = client.get("/editor/").text
    assert "Days with stories but no digest" not in page and "not sent" in page
    add_subscriber(store, cfg, "a@example.com")
    sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp"))
    page = client.get("/editor/").text
    assert "1 sent" in page and "0 failed" in page
    # Sending has begun: the digest can no longer be recomposed.
    r = client.post(f"/editor/{SAMPLE_DAY}/compose", data={"csrf": csrf})
    assert r.status_code == 409 and "already being sent" in r.text


def test_preview_shows_the_email_as_sent_for_a_choice_of_sections(
    client: TestClient, cfg: Config, day: Digest
) -> None:
    login(client)
    variants = Variants(cfg, day)
    for view, marker in [
        ("phone", 'class="w375"'),
        ("desktop", 'class="w600"'),
        ("text", '<pre class="text">'),
    ]:
        page = client.get(f"/editor/{SAMPLE_DAY}", params={"view": view, "sections": "Space"})
        assert page.status_code == 200 and marker in page.text
    space = variants.get(("Space",))
    assert space is not None
    page = client.get(f"/editor/{SAMPLE_DAY}", params={"sections": "Space"}).text
    assert day.preheader.split(".")[0] in page
    frame = client.get(f"/editor/{SAMPLE_DAY}/frame", params={"sections": "Space"})
    assert frame.status_code == 200
    assert "style-src 'unsafe-inline'" in frame.headers["content-security-policy"]
    assert "script" not in frame.headers["content-security-policy"]
    expected = space.html.replace(UNSUBSCRIBE_TOKEN, "preview").replace(
        PREFERENCES_TOKEN, "preview"
    )
    assert frame.text == expected
    for section in day.sections:  # only the chosen section's heading is in the email
        assert (f">{escape(section.name)}</h2>" in frame.text) == (section.name == "Space")
    # A choice with none of the day's sections: the subscriber would be skipped.
    absent = client.get(f"/editor/{SAMPLE_DAY}", params={"sections": "More headlines"})
    assert absent.status_code == 200 and "gets no email" in absent.text
    assert client.get(f"/editor/{SAMPLE_DAY}", params={"sections": "Nope"}).status_code == 400
    assert client.get("/editor/2026-13-45").status_code == 404


def test_a_test_copy_goes_to_one_address_and_records_nothing(
    client: TestClient, store: Store, cfg: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    add_subscriber(store, cfg, "reader@example.com")
    csrf = login(client)
    r = client.post(
        f"/editor/{SAMPLE_DAY}/test",
        follow_redirects=False,
        data={"csrf": csrf, "email": "Editor@Example.com", "sections": ["Space"]},
    )
    assert r.status_code == 303 and "notice=sent" in r.headers["location"]
    [got] = smtp_server.messages
    assert got.rcpt_tos == ["editor@example.com"]
    msg = parse(got.data)
    space = Variants(cfg, day).get(("Space",))
    assert space is not None
    assert "\nSpace\n=====\n" in text_of(msg)
    assert store.find_send(SAMPLE_DAY) is None  # nothing recorded, the list untouched
    assert (
        client.post(
            f"/editor/{SAMPLE_DAY}/test", data={"csrf": csrf, "email": "not an address"}
        ).status_code
        == 400
    )


# ---- archive and feed ---------------------------------------------------------------------


def test_archive_shows_only_digests_whose_send_began(
    client: TestClient, store: Store, day: Digest
) -> None:
    assert client.get(f"/archive/{SAMPLE_DAY}").status_code == 404
    assert SAMPLE_DAY not in client.get("/archive/").text
    store.get_or_create_send(SAMPLE_DAY)
    page = client.get(f"/archive/{SAMPLE_DAY}")
    assert page.status_code == 200
    for section in day.sections:
        assert escape(section.name) in page.text
        for headline in section.headlines:  # every headline, also any the email cut
            assert escape(headline) in page.text
    assert f'href="/archive/{SAMPLE_DAY}"' in client.get("/archive/").text
    assert client.get("/archive/not-a-date").status_code == 404


NASTY = "<script>alert('x')</script> & \"quotes\""


def test_feed_is_valid_atom_and_escapes_everything(
    client: TestClient, store: Store, cfg: Config
) -> None:
    nasty = Digest(
        "2026-11-20",
        f"Subject {NASTY}",
        f"Pre {NASTY}",
        (
            Section(
                "Space",
                (StoryItem(f"Title {NASTY}", "Summary & more", None),),
                (f"Headline {NASTY}",),
            ),
        ),
    )
    store.save_digest(nasty)
    store.save_digest(dataclasses.replace(nasty, date="2026-11-21", subject="Draft, unsent"))
    store.get_or_create_send("2026-11-20")
    r = client.get("/archive/feed.xml")
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [f"Subject {NASTY}"]
    entry = entries[0]
    assert entry.findtext(f"{ATOM}id") == f"{BASE}/archive/2026-11-20"
    assert entry.find(f"{ATOM}link").get("href") == f"{BASE}/archive/2026-11-20"  # type: ignore[union-attr]
    assert entry.findtext(f"{ATOM}updated", "").endswith("Z")
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert "<h3>Title &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in (content.text or "")
    assert "<script>" not in r.text
    page = client.get("/archive/2026-11-20").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page


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
