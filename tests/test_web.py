"""The web app's routes through its test client, on a real SQLite store in tmp_path, with the
real aiosmtpd server receiving confirmation emails, test copies and the digests whose links
the subscriber pages must honour.

This module has the helpers and fixtures the other web tests share (test_web_editor.py,
test_web_subscribers.py, test_browser.py), and the tests of what every page does (headers,
escaping, config, access log) and of the public archive and feed."""

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
from markupsafe import escape

from digest.config import Config, load_config
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.jobs import sending
from digest.model import Digest, Section, StoryItem
from digest.store import Store
from digest.subscribers import new_subscriber
from digest.web import create_app
from digest.web.security import RedactTokens

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer
from .test_send import parse, smtp_config

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
    ingest_jobs.ingest(store, [SAMPLES])
    return digest_jobs.compose_day(store, config, SAMPLE_DAY)


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


# Fixtures carry a name= so the other web tests can import them without shadowing
# arguments.
@pytest.fixture(name="cfg")
def cfg_fixture(config: Config, smtp_server: SMTPTestServer) -> Config:
    return web_config(config, smtp_server)


@pytest.fixture(name="client")
def client_fixture(cfg: Config, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        yield c


@pytest.fixture(name="day")
def day_fixture(store: Store, cfg: Config) -> Digest:
    return compose_sample(store, cfg)


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
