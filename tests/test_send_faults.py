"""A send never crashes, hangs or stops for one bad message: odd addresses and names,
greylisting, a full outbox disk. (Signals, outages and kills: tests/test_send_stops.py.)"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from digest.config import Config
from digest.store import Store
from digest.subscribers import NewSubscriber, new_subscriber, normalize_email

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPServerFactory, SMTPTestServer, both_ways
from .test_send import day, parse, send, smtp_config  # noqa: F401  (day is a fixture)


def readers(config: Config, n: int, start: int = 0) -> list[NewSubscriber]:
    return [
        new_subscriber(f"reader{i}@example.com", f"Reader {i}", None, config.section_names)
        for i in range(start, start + n)
    ]


def test_an_internationalised_domain_is_stored_in_its_ascii_form() -> None:
    assert normalize_email("Ana@Exämple.COM") == "ana@xn--exmple-cua.com"
    assert normalize_email("ana@xn--exmple-cua.com") == "ana@xn--exmple-cua.com"  # one subscriber
    assert normalize_email("Zoë@example.com") == "zoë@example.com"  # needs SMTPUTF8 to send


@pytest.mark.usefixtures("day")
def test_non_ascii_addresses_are_sent_and_never_stop_the_run(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    """Ten internationalised domains among 200 readers (two stored by an older version in
    their Unicode form), and a non-ASCII local part, which this server's SMTPUTF8 carries."""
    cfg = smtp_config(config, smtp_server)
    idn = [new_subscriber(f"intl{i}@exämple.com", None, None, []) for i in range(8)]
    legacy = [NewSubscriber(f"old{i}@bücher.example", None, None) for i in range(2)]
    utf8 = [new_subscriber("zoë@example.com", "Zoë", None, [])]
    store.upsert_subscribers(readers(cfg, 100) + idn + legacy + utf8 + readers(cfg, 89, 100))
    result = send(store, cfg)
    assert result.counts.sent == 200 and result.complete, result.summary
    got = {r for m in smtp_server.messages for r in m.rcpt_tos}
    assert {f"intl{i}@xn--exmple-cua.com" for i in range(8)} <= got
    assert {"old0@xn--bcher-kva.example", "old1@xn--bcher-kva.example"} <= got
    [zoe] = smtp_server.received_by("zoë@example.com")
    # Headers in UTF-8 (RFC 6532), as SMTPUTF8 allows.
    as_text = email.message_from_string(zoe.data.decode("utf-8"), policy=email.policy.default)
    assert as_text["To"].addresses[0].addr_spec == "zoë@example.com"


@pytest.mark.usefixtures("day")
def test_a_server_without_smtputf8_fails_only_that_delivery(
    store: Store, config: Config, smtp_server_factory: SMTPServerFactory
) -> None:
    server = smtp_server_factory(smtputf8=False)
    cfg = smtp_config(config, server)
    utf8 = [new_subscriber("zoë@example.com", None, None, [])]
    store.upsert_subscribers(readers(cfg, 20) + utf8 + readers(cfg, 20, 20))
    result = send(store, cfg)
    assert (result.counts.sent, result.counts.failed, result.aborted) == (40, 1, None)
    assert not server.received_by("zoë@example.com")
    with store.engine.connect() as conn:
        [(reply,)] = conn.exec_driver_sql(
            "SELECT last_reply FROM deliveries WHERE state = 'failed'"
        ).all()
    assert "SMTPUTF8" in reply


@pytest.mark.usefixtures("day")
def test_an_address_no_server_can_take_fails_alone(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    """A row from before validation was this strict: its domain is no valid IDN."""
    cfg = smtp_config(config, smtp_server)
    bad = [NewSubscriber("who@bad_nämes.example", None, None)]
    store.upsert_subscribers(readers(cfg, 10) + bad + readers(cfg, 10, 10))
    result = send(store, cfg)
    assert (result.counts.sent, result.counts.failed, result.aborted) == (20, 1, None)


NAMES = [
    "Ann =?utf-8?q?x=0D=0ABcc:_victim@example.com?= Org, a long name that folds " * 2,
    "=?utf-8?b?QmNjOiB2aWN0aW1AZXhhbXBsZS5jb20=?=",
    "Plain Name",
    "Zoë =?iso-8859-1?q?=E9?= Lefèvre",
]


@pytest.mark.usefixtures("day")
def test_names_that_look_like_encoded_words_are_plain_text(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subs = [new_subscriber(f"n{i}@example.com", name, None, []) for i, name in enumerate(NAMES)]
    store.upsert_subscribers(readers(cfg, 30) + subs)
    result = send(store, cfg)
    assert result.complete and result.counts.sent == 34, result.summary
    for i, name in enumerate(NAMES):
        [got] = smtp_server.received_by(f"n{i}@example.com")
        head = got.data.split(b"\r\n\r\n", 1)[0]
        assert b"\nbcc:" not in head.lower()
        [to] = re.findall(rb"^To:(.*?)\r\n(?![ \t])", head, re.MULTILINE | re.DOTALL)
        phrase = to.replace(b"\r\n", b"").decode().rpartition(" <")[0]
        # Decoded as RFC 2047 says (adjacent encoded words joined), the name is the literal.
        assert str(make_header(decode_header(phrase))).strip() == name.strip()
        assert parse(got.data)["To"].addresses[0].addr_spec == f"n{i}@example.com"


@both_ways
@pytest.mark.usefixtures("day")
def test_greylisting_defers_those_recipients_and_the_run_goes_on(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    """Eight recipients in a row answer 421 at RCPT (24 refusals with the retries): each is
    deferred, and the run goes on to everyone else."""
    cfg = smtp_config(config, smtp_server, concurrency=1)
    store.upsert_subscribers(readers(cfg, 150))
    grey = [f"reader{i}@example.com" for i in range(40, 48)]
    for address in grey:
        smtp_server.fail(address, "421 4.7.0 Greylisted, try again later")
    result = send(store, cfg)
    assert result.aborted is None, result.summary
    assert (result.counts.sent, result.counts.deferred, result.counts.queued) == (142, 8, 0)
    assert all(smtp_server.rcpt_attempts(a) == cfg.max_attempts for a in grey), [
        smtp_server.rcpt_attempts(a) for a in grey
    ]


@pytest.mark.usefixtures("day")
def test_a_connection_that_keeps_failing_still_stops_the_run(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    """What does count: no connection at all. The run stops, the rest stays queued."""
    cfg = smtp_config(config, smtp_server, concurrency=1, max_attempts=1)
    store.upsert_subscribers(readers(cfg, 60))
    smtp_server.stop()
    result = send(store, cfg)
    assert result.aborted and "failures in a row" in result.aborted
    assert result.counts.sent == 0 and result.counts.queued == 60 - result.counts.deferred


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 5 MB file system (tmpfs), so the disk really fills up."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
        pytest.skip("mounting a small file system needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.usefixtures("day")
def test_a_full_outbox_disk_stops_the_run_cleanly(
    store: Store, config: Config, small_disk: Path, tmp_path: Path
) -> None:
    """1,000 subscribers, 5 MB of disk: the run stops with a clear reason, nothing stays
    claimed, no half-written file stays behind, and the lock is free for the next run."""
    store.upsert_subscribers(readers(config, 1000))
    env = {
        **os.environ,
        "DIGEST_DATABASE_URL": config.database_url,
        "DIGEST_OUTBOX": str(small_disk / "outbox"),
        "DIGEST_LOCK_FILE": str(tmp_path / "digest.lock"),
        "DIGEST_SECRET_KEY": "disk-test",
    }
    command = [sys.executable, "-m", "digest", "send", "--date", SAMPLE_DAY, "--transport"]
    for _ in range(2):  # the second run is not locked out: it meets the same full disk
        done = subprocess.run(
            [*command, "outbox"], env=env, capture_output=True, timeout=120, check=False
        )
        out = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == 1, out
        assert "stopped: cannot write to the outbox" in out and "No space left" in out, out
        assert "another digest run" not in out
    with store.engine.connect() as conn:
        states = dict(
            conn.exec_driver_sql("SELECT state, COUNT(*) FROM deliveries GROUP BY state").all()
        )
    assert "sending" not in states and states["queued"] > 0
    written = list((small_disk / "outbox" / SAMPLE_DAY).iterdir())
    assert not [p for p in written if p.suffix == ".tmp"]
    assert len(written) == states["sent"]
