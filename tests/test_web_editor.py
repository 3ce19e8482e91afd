"""The editor pages through the web app's test client: signing in, sessions and CSRF, the
overview, the preview of a digest as sent, and test copies received by the real aiosmtpd
server. Helpers and fixtures come from test_web.py."""

from __future__ import annotations

import dataclasses
import re
import warnings

import pytest
from httpx import Response
from markupsafe import escape

from digest.config import Config, SectionRule
from digest.deliver.message import PREFERENCES_TOKEN, UNSUBSCRIBE_TOKEN
from digest.deliver.variants import Variants
from digest.jobs import ingest as ingest_jobs
from digest.jobs import sending
from digest.model import Digest
from digest.store import Store
from digest.web import create_app
from digest.web.security import EditorAuth

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer
from .test_send import SECRET, parse, smtp_config, text_of
from .test_web import (  # with the cfg, client and day fixtures
    BASE,
    PASSWORD,
    add_subscriber,
    cfg_fixture,  # noqa: F401
    client_fixture,  # noqa: F401
    day_fixture,  # noqa: F401
)

with warnings.catch_warnings():
    # starlette now prefers httpx2; httpx (the dev extra) still works, so don't nag each run.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


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
    # Path=/: the archive shows a signed-in editor a draft day (a test copy's links).
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/;" in cookie


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
    ingest_jobs.ingest(store, [SAMPLES])
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
    assert client.get(f"/editor/{SAMPLE_DAY}", params={"sections": "Nope"}).status_code == 400
    assert client.get("/editor/2026-13-45").status_code == 404


def test_preview_of_a_choice_with_none_of_the_days_sections(
    cfg: Config, store: Store, day: Digest
) -> None:
    """The subscriber would be skipped: the preview says so."""
    unused = SectionRule("Unused", ("zzzzyzzy",))
    wider = dataclasses.replace(cfg, sections=(*cfg.sections, unused))
    assert "Unused" not in {s.name for s in day.sections}
    with TestClient(create_app(wider, store), base_url=BASE) as client:
        login(client)
        absent = client.get(f"/editor/{SAMPLE_DAY}", params={"sections": "Unused"})
        assert absent.status_code == 200 and "gets no email" in absent.text
        present = client.get(f"/editor/{SAMPLE_DAY}", params={"sections": "Space"})
        assert present.status_code == 200 and "gets no email" not in present.text


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
