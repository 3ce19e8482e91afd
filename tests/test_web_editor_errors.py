"""Editor actions that fail (a bad test address, an unreachable SMTP server, a digest that can
no longer be recomposed) answer inside the editor's layout, with the reason escaped and a link
back to the day's page, never the public error page. Through the web app's test client, with
the real aiosmtpd server and a port nothing listens on."""

from __future__ import annotations

import dataclasses
import socket
import warnings

from httpx import Response

from digest.config import Config
from digest.jobs import sending
from digest.model import Digest
from digest.store import Store
from digest.web import create_app

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPTestServer
from .test_web import (  # with the cfg, client and day fixtures
    BASE,
    add_subscriber,
    cfg_fixture,  # noqa: F401
    client_fixture,  # noqa: F401
    day_fixture,  # noqa: F401
)
from .test_web_editor import login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BACK = f'<a href="/editor/{SAMPLE_DAY}">Back to the digest for {SAMPLE_DAY}</a>'


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_editor_failure(r: Response, status: int, says: str) -> None:
    """The editor's layout (its navigation and sign-out form), the reason, the way back."""
    assert r.status_code == status, r.text
    assert 'action="/editor/logout"' in r.text and 'href="/editor/">Digests</a>' in r.text
    assert "Go to the archive" not in r.text  # not the public message page
    assert 'class="error" role="alert"' in r.text and says in r.text
    assert BACK in r.text


def test_a_bad_test_address_stays_in_the_editor_with_a_way_back(
    client: TestClient, day: Digest, smtp_server: SMTPTestServer
) -> None:
    csrf = login(client)
    bad = "<b>not</b> an address"
    r = client.post(f"/editor/{SAMPLE_DAY}/test", data={"csrf": csrf, "email": bad})
    assert_editor_failure(r, 400, "The test copy was not sent: invalid email")
    assert "<b>not</b>" not in r.text and "&lt;b&gt;not&lt;/b&gt;" in r.text  # escaped
    r = client.post(f"/editor/{SAMPLE_DAY}/test", data={"csrf": csrf, "email": ""})
    assert_editor_failure(r, 400, "email is empty")
    r = client.post(
        f"/editor/{SAMPLE_DAY}/test",
        data={"csrf": csrf, "email": "e@example.org", "sections": ["<i>Nope</i>"]},
    )
    assert_editor_failure(r, 400, "&lt;i&gt;Nope&lt;/i&gt;")
    assert smtp_server.messages == []
    # The way back leads to the day's page.
    assert client.get(f"/editor/{SAMPLE_DAY}").status_code == 200


def test_an_unreachable_smtp_server_stays_in_the_editor_with_a_way_back(
    cfg: Config, store: Store, day: Digest
) -> None:
    port = closed_port()
    down = dataclasses.replace(cfg, smtp_port=port)
    with TestClient(create_app(down, store), base_url=BASE) as client:
        csrf = login(client)
        r = client.post(
            f"/editor/{SAMPLE_DAY}/test", data={"csrf": csrf, "email": "editor@example.org"}
        )
    assert_editor_failure(r, 502, "The test copy was not sent:")
    assert str(port) in r.text  # the reason names the server it could not reach
    assert store.find_send(SAMPLE_DAY) is None
    assert cfg.secret_key is not None and cfg.secret_key not in r.text


def test_recomposing_a_day_being_sent_stays_in_the_editor(
    client: TestClient, store: Store, cfg: Config, day: Digest
) -> None:
    add_subscriber(store, cfg, "a@example.com")
    sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp"))
    csrf = login(client)
    r = client.post(f"/editor/{SAMPLE_DAY}/compose", data={"csrf": csrf})
    assert_editor_failure(r, 409, "already being sent")


def test_approving_a_day_without_a_digest_stays_in_the_editor(client: TestClient) -> None:
    csrf = login(client)
    r = client.post(f"/editor/{SAMPLE_DAY}/approve", data={"csrf": csrf})
    assert_editor_failure(r, 404, f"no digest for {SAMPLE_DAY}")
