"""Delivery through a real SMTP server (aiosmtpd on a free port), with injected faults."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.config import Config
from digest.errors import ConfigError, LockedError
from digest.jobs import daily, sending
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.lock import run_lock
from digest.model import Digest
from digest.store import Store
from digest.subscribers import new_subscriber
from digest.tokens import read_token

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPServerFactory, SMTPTestServer, both_ways

SECRET = "test-secret-key"


def smtp_config(config: Config, server: SMTPTestServer, **changes: object) -> Config:
    settings: dict[str, object] = {
        "smtp_host": server.host,
        "smtp_port": server.port,
        "secret_key": SECRET,
        "smtp_timeout": 1.0,
        "retry_backoff": 0.01,
        "base_url": "https://news.example.org",
        "from_addr": "Defence & Space Daily <digest@news.example.org>",
        "lock_file": config.outbox.parent / "test.lock",
    }
    return dataclasses.replace(config, **{**settings, **changes})  # type: ignore[arg-type]


@pytest.fixture
def day(store: Store, config: Config) -> Digest:
    ingest_jobs.ingest(store, [SAMPLES])
    return digest_jobs.compose_day(store, config, SAMPLE_DAY)


def subscribe(store: Store, config: Config, *rows: tuple[str, str | None, str | None]) -> None:
    store.upsert_subscribers([new_subscriber(e, n, s, config.section_names) for e, n, s in rows])


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def heading(name: str) -> str:
    return f"\n{name}\n{'=' * len(name)}\n"


def send(store: Store, cfg: Config, **kw: object) -> sending.SendResult:
    return sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp", **kw))  # type: ignore[arg-type]


def test_every_subscriber_gets_one_message_with_their_sections(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(
        store,
        cfg,
        ("all@example.com", "All Sections", None),
        ("space@example.com", "Zoë Lefèvre", "Space;Earth and climate"),
        ("nuke@example.com", None, "Nuclear"),
        ("space2@example.com", "Second Space", "earth and climate; space"),
    )
    result = send(store, cfg)
    assert result.complete
    assert result.counts.as_dict() == {
        "queued": 0,
        "sent": 4,
        "failed": 0,
        "deferred": 0,
        "skipped": 0,
    }
    # Three distinct section choices (the last two are the same choice): rendered once each.
    assert result.variants == 3
    assert len(smtp_server.messages) == 4
    names = [s.name for s in day.sections]
    for addr, wanted in [
        ("all@example.com", names),
        ("space@example.com", ["Space", "Earth and climate"]),
        ("nuke@example.com", ["Nuclear"]),
    ]:
        [got] = smtp_server.received_by(addr)
        assert got.mail_from == "digest@news.example.org"
        body = text_of(parse(got.data))
        for name in names:
            assert (heading(name) in body) == (name in wanted), (addr, name)


def test_headers_parse_back(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(
        store,
        cfg,
        ("zoe@example.com", "Zoë Lefèvre", None),
        ("okafor@example.com", "Okafor, Chidi", None),
    )
    send(store, cfg)
    for addr, name in [("zoe@example.com", "Zoë Lefèvre"), ("okafor@example.com", "Okafor, Chidi")]:
        [got] = smtp_server.received_by(addr)
        assert all(len(line) <= 998 for line in got.data.split(b"\r\n"))
        msg = parse(got.data)
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
        to = msg["To"].addresses[0]
        assert (to.display_name, to.addr_spec) == (name, addr)
        assert msg["From"].addresses[0].addr_spec == "digest@news.example.org"
        assert msg["Subject"] == day.subject
        assert msg["Date"].datetime is not None
        assert msg["List-Id"] == '"Defence & Space Daily" <defence-space-daily.news.example.org>'
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = [p.strip().strip("<>") for p in msg["List-Unsubscribe"].split(",")]
        assert https.startswith("https://news.example.org/u/")
        assert mailto.startswith("mailto:unsubscribe@news.example.org?subject=unsubscribe")
        subscriber = store.find_subscriber(addr)
        assert subscriber is not None
        token = https.rsplit("/", 1)[1]
        assert read_token(SECRET, token, "unsubscribe") == subscriber.id
        # The body shows the same unsubscribe link and a preferences link.
        body = text_of(msg)
        assert https in body
        assert "https://news.example.org/p/" in body
        html = msg.get_body(("html",))
        assert html is not None and https in html.get_content()
        assert msg["Message-ID"] == (
            f"<digest.{SAMPLE_DAY}.{subscriber.id}.defence-space-daily@news.example.org>"
        )


def test_a_second_send_sends_nothing(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, ("a@example.com", None, None), ("b@example.com", None, None))
    assert send(store, cfg).this_run["sent"] == 2
    again = send(store, cfg)
    assert again.this_run["sent"] == 0 and again.complete
    assert len(smtp_server.messages) == 2


def test_added_after_start_waits_for_the_next_issue_and_unsubscribed_does_not_get_it(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    # Issue 14: a subscriber added after the send began starts with the next issue (unless
    # back_issues, tests/test_back_issues.py); before, a rerun sent them this one.
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, ("a@example.com", None, None), ("late@example.com", None, None))
    smtp_server.fail("late@example.com", "451 4.3.0 Try later")  # stays deferred
    first = send(store, cfg)
    assert first.counts.deferred == 1 and not first.complete
    late = store.find_subscriber("late@example.com")
    assert late is not None
    store.set_status(late.id, "unsubscribed")
    subscribe(store, cfg, ("new@example.com", None, None))
    smtp_server.clear_faults()
    second = send(store, cfg)
    assert second.this_run["sent"] == 0
    assert second.this_run["skipped"] == 1
    assert smtp_server.received_by("new@example.com") == []
    assert smtp_server.received_by("late@example.com") == []
    assert sending.status(store, SAMPLE_DAY).as_dict() == {
        "queued": 0,
        "sent": 1,
        "failed": 0,
        "deferred": 0,
        "skipped": 1,
    }


def test_subscriber_without_any_of_their_sections_is_skipped(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, ("a@example.com", None, None), ("m@example.com", None, "More headlines"))
    store.save_digest(dataclasses.replace(day, sections=day.sections[:2]))
    result = send(store, cfg)
    assert result.counts.sent == 1 and result.counts.skipped == 1
    assert result.complete


@both_ways
@pytest.mark.parametrize("reply", ["421 4.7.0 Busy, closing", "451 4.3.0 Temporary failure"])
def test_transient_reply_is_retried_on_a_fresh_connection(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer, reply: str
) -> None:
    cfg = smtp_config(config, smtp_server, max_attempts=3)
    subscribe(store, cfg, ("flaky@example.com", None, None), ("ok@example.com", None, None))
    smtp_server.fail("flaky@example.com", reply, times=2)
    result = send(store, cfg, concurrency=1)
    assert result.complete and result.counts.sent == 2
    assert smtp_server.rcpt_attempts("flaky@example.com") == 3
    assert len(smtp_server.received_by("flaky@example.com")) == 1
    assert smtp_server.connections >= 3  # each retry came on a new connection


@both_ways
def test_transient_failures_end_deferred_and_are_retried_next_run(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server, max_attempts=2)
    subscribe(store, cfg, ("flaky@example.com", None, None), ("ok@example.com", None, None))
    smtp_server.fail("flaky@example.com", "451 4.3.0 Temporary failure")
    result = send(store, cfg)
    assert result.counts.as_dict() == {
        "queued": 0,
        "sent": 1,
        "failed": 0,
        "deferred": 1,
        "skipped": 0,
    }
    assert smtp_server.rcpt_attempts("flaky@example.com") == 2
    smtp_server.clear_faults()
    again = send(store, cfg)
    assert again.complete and again.this_run["sent"] == 1
    assert len(smtp_server.received_by("flaky@example.com")) == 1


@both_ways
def test_permanent_failure_is_failed_and_others_still_go(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server, bounce_limit=2)
    subscribe(
        store,
        cfg,
        ("gone@example.com", None, None),
        ("ok@example.com", None, None),
        ("ok2@example.com", None, None),
    )
    smtp_server.fail("gone@example.com", "550 5.1.1 No such user")
    result = send(store, cfg, concurrency=1)
    assert result.counts.as_dict() == {
        "queued": 0,
        "sent": 2,
        "failed": 1,
        "deferred": 0,
        "skipped": 0,
    }
    assert not result.complete
    assert smtp_server.rcpt_attempts("gone@example.com") == 1  # never retried
    gone = store.find_subscriber("gone@example.com")
    assert gone is not None and gone.status == "active" and gone.hard_bounces == 1
    # The next day's failure is the second in a row: the subscriber is now bounced.
    store.save_digest(dataclasses.replace(day, date="2026-11-27"))
    sending.send(store, cfg, sending.SendRequest("2026-11-27", transport="smtp"))
    gone = store.find_subscriber("gone@example.com")
    assert gone is not None and gone.status == "bounced"


@both_ways
def test_connection_dropped_in_data_is_retried(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, ("drop@example.com", None, None), ("ok@example.com", None, None))
    smtp_server.drop_in_data("drop@example.com", times=1)
    result = send(store, cfg)
    assert result.complete
    assert len(smtp_server.received_by("drop@example.com")) == 1


@both_ways
def test_a_server_that_stops_answering_times_out(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server, smtp_timeout=0.5, max_attempts=2)
    subscribe(store, cfg, ("hang@example.com", None, None), ("ok@example.com", None, None))
    smtp_server.hang("hang@example.com")
    result = send(store, cfg, concurrency=2)
    assert result.seconds < 10
    assert result.counts.sent == 1 and result.counts.deferred == 1
    [row] = [r for r in smtp_server.received_by("ok@example.com")]
    assert row.rcpt_tos == ["ok@example.com"]


@both_ways
def test_connections_are_reused(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, *[(f"r{i}@example.com", None, None) for i in range(30)])
    result = send(store, cfg, concurrency=3)
    assert result.counts.sent == 30
    assert smtp_server.connections <= 3


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_tls_and_auth(
    store: Store, config: Config, day: Digest, smtp_server_factory: SMTPServerFactory, tls: str
) -> None:
    server = smtp_server_factory(tls=tls, auth=("digest", "s3cret-pass"))  # type: ignore[arg-type]
    cfg = smtp_config(
        config,
        server,
        smtp_tls=tls,
        smtp_username="digest",
        smtp_password="s3cret-pass",
        smtp_ca_file=server.cert_path,
    )
    subscribe(store, cfg, ("a@example.com", None, None))
    assert send(store, cfg).complete
    [got] = server.messages
    assert got.tls and got.auth_user == "digest"


def test_wrong_password_stops_the_run_and_is_not_logged(
    store: Store, config: Config, day: Digest, smtp_server_factory: SMTPServerFactory
) -> None:
    server = smtp_server_factory(tls="tls", auth=("digest", "right"))
    cfg = smtp_config(
        config,
        server,
        smtp_tls="tls",
        smtp_username="digest",
        smtp_password="wrong-pass-XYZ",
        smtp_ca_file=server.cert_path,
    )
    subscribe(store, cfg, ("a@example.com", None, None))
    result = send(store, cfg)
    assert result.aborted and "login" in result.aborted
    assert "wrong-pass-XYZ" not in result.summary and "wrong-pass-XYZ" not in repr(cfg)
    assert result.counts.queued == 1 and result.counts.failed == 0  # nobody marked bounced


def test_smtp_needs_a_secret_key(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = dataclasses.replace(smtp_config(config, smtp_server), secret_key=None)
    with pytest.raises(ConfigError, match="secret_key"):
        send(store, cfg)


def test_outbox_transport_writes_one_eml_each_with_a_kept_secret(
    store: Store, config: Config, day: Digest, tmp_path: Path
) -> None:
    cfg = dataclasses.replace(config, lock_file=tmp_path / "digest.lock")
    subscribe(store, cfg, ("a@example.com", None, None), ("b@example.com", None, "Space"))
    result = sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY))
    assert result.transport == "outbox" and result.counts.sent == 2
    files = sorted((cfg.outbox / SAMPLE_DAY).glob("*.eml"))
    assert [f.name for f in files] == ["000001-a@example.com.eml", "000002-b@example.com.eml"]
    secret = (tmp_path / ".digest-secret").read_text().strip()
    msg = parse(files[0].read_bytes())
    token = msg["List-Unsubscribe"].split(",")[0].strip("<> ").rsplit("/", 1)[1]
    assert read_token(secret, token, "unsubscribe") == 1


def test_send_refuses_while_another_holds_the_lock(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    with run_lock(cfg.lock_file), pytest.raises(LockedError, match="another digest run"):
        send(store, cfg)


def test_run_ingests_composes_and_sends_once(
    store: Store, config: Config, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    cfg = dataclasses.replace(smtp_config(config, smtp_server), inbox=SAMPLES)
    subscribe(store, cfg, ("a@example.com", None, None))
    first = daily.run(store, cfg, SAMPLE_DAY)
    assert first.ingest.stored == 17 and first.composed and first.send.counts.sent == 1
    second = daily.run(store, cfg, SAMPLE_DAY)
    assert second.ingest.stored == 0 and not second.composed
    assert second.send.this_run["sent"] == 0
    assert len(smtp_server.messages) == 1


def test_cli_send_status_run_and_exit_codes(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from digest.cli import cli

    subscribe(store, config, ("ok@example.com", None, None), ("gone@example.com", None, None))
    smtp_server.fail("gone@example.com", "550 5.1.1 No such user")
    (tmp_path / "inbox").mkdir()  # empty: `digest run` refuses an inbox that is not there
    env = {
        "DIGEST_DATABASE_URL": config.database_url,
        "DIGEST_SMTP_HOST": smtp_server.host,
        "DIGEST_SMTP_PORT": str(smtp_server.port),
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_LOCK_FILE": str(tmp_path / "cli.lock"),
        "DIGEST_INBOX": str(tmp_path / "inbox"),
    }
    runner = CliRunner()
    r = runner.invoke(cli, ["send", "--date", SAMPLE_DAY], env=env)
    assert r.exit_code == 1
    assert r.output.startswith(f"send {SAMPLE_DAY} via smtp: 1 sent, 1 failed, 0 deferred")
    r = runner.invoke(cli, ["status", "--date", SAMPLE_DAY, "--json"], env=env)
    assert r.exit_code == 0
    assert r.output.strip() == (
        '{"queued": 0, "sent": 1, "failed": 1, "deferred": 0, "skipped": 0, "approval": "approved"}'
    )
    r = runner.invoke(cli, ["run", "--date", SAMPLE_DAY], env=env)
    assert r.exit_code == 1  # the failed delivery is still there to see
    assert "0 sent" in r.output and len(smtp_server.messages) == 1
    r = runner.invoke(
        cli,
        ["send", "--date", SAMPLE_DAY, "--transport", "smtp"],
        env={**env, "DIGEST_SECRET_KEY": ""},
    )
    assert r.exit_code == 2 and "secret_key is not set" in r.output
    r = runner.invoke(cli, ["compose", "--date", SAMPLE_DAY], env=env)
    assert r.exit_code == 2 and "already being sent" in r.output


def test_dry_run_writes_the_outbox_and_records_nothing(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, ("a@example.com", None, None), ("b@example.com", None, "Space"))
    result = send(store, cfg, dry_run=True)
    assert result.this_run["sent"] == 2 and result.variants == 2
    assert smtp_server.messages == []
    files = sorted((cfg.outbox / SAMPLE_DAY / "dry-run").glob("*.eml"))
    assert len(files) == 2
    assert sending.status(store, SAMPLE_DAY).sent == 0
    # The real send afterwards still reaches everyone.
    assert send(store, cfg).counts.sent == 2 and len(smtp_server.messages) == 2


def test_several_sending_processes_share_one_send(
    store: Store, config: Config, day: Digest, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    choices = [None, "Space", "Nuclear;War report"]
    subscribe(store, cfg, *[(f"r{i}@example.com", None, choices[i % 3]) for i in range(120)])
    result = send(store, cfg, workers=3, concurrency=2)
    assert result.complete and result.counts.sent == 120
    assert result.this_run["sent"] == 120  # gathered from the three processes
    assert result.variants == 3  # rendered once each, before the processes started
    received = [r for m in smtp_server.messages for r in m.rcpt_tos]
    assert sorted(received) == sorted(f"r{i}@example.com" for i in range(120))
