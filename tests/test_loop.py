"""The event loop sending runs on (issue #16): uvloop's where it is installed, asyncio's when
DIGEST_EVENT_LOOP=asyncio says so; a real send over the aiosmtpd server on each."""

from __future__ import annotations

import asyncio

import pytest

from digest.config import Config
from digest.deliver import loop
from digest.jobs import sending
from digest.store import Store

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPTestServer
from .test_send import smtp_config
from .test_send_stops import everyone_once, prepare


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_where_installed_and_asyncio_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv("DIGEST_EVENT_LOOP", raising=False)
    assert loop.name() == "uvloop" and loop.run(loop_module()).startswith("uvloop")
    monkeypatch.setenv("DIGEST_EVENT_LOOP", "asyncio")
    assert loop.name() == "asyncio" and loop.run(loop_module()).startswith("asyncio")


@pytest.mark.parametrize("which", ["uvloop", "asyncio"])
def test_a_send_on_either_loop_reaches_everyone_once(
    store: Store,
    config: Config,
    smtp_server: SMTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
    which: str,
) -> None:
    if which == "uvloop":
        pytest.importorskip("uvloop")
        monkeypatch.delenv("DIGEST_EVENT_LOOP", raising=False)
    else:
        monkeypatch.setenv("DIGEST_EVENT_LOOP", "asyncio")
    cfg = smtp_config(config, smtp_server)
    prepare(store, cfg, 12)
    result = sending.send(store, cfg, sending.SendRequest(date=SAMPLE_DAY))
    assert result.counts.sent == 12 and everyone_once(smtp_server, 12) == 0
