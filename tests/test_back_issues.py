"""Issue 14: a reader who becomes active after a day's send began starts with the next issue,
as the confirmation page promises; a rerun of that day's send does not queue them, unless
back_issues. Deliveries already queued or sent are never touched. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from digest.config import Config, load_config
from digest.jobs import sending
from digest.model import Digest
from digest.store import Store
from digest.subscribers import new_subscriber

from .conftest import SAMPLE_DAY
from .smtp_server import SMTPTestServer
from .test_send import day, send, smtp_config, subscribe  # noqa: F401  (day is a fixture)


def subscriber_id(store: Store, address: str) -> int:
    found = store.find_subscriber(address)
    assert found is not None
    return found.id


def start_with_latecomers(store: Store, cfg: Config, smtp_server: SMTPTestServer) -> None:
    """A first run: on@ is sent, slow@ deferred; pending@ and paused@ are not active yet.
    Then, after the send began: new@ subscribes, pending@ confirms, paused@ resumes, and
    slow@ changes their sections (they were queued: that stays)."""
    subscribe(store, cfg, ("on@example.com", None, None), ("slow@example.com", None, None))
    pending, _ = store.add_pending(
        new_subscriber("pending@example.com", None, None, cfg.section_names)
    )
    subscribe(store, cfg, ("paused@example.com", None, None))
    store.set_status(subscriber_id(store, "paused@example.com"), "paused")
    smtp_server.fail("slow@example.com", "451 4.3.0 Try later")
    first = send(store, cfg)
    assert first.counts.as_dict() == {
        "queued": 0,
        "sent": 1,
        "failed": 0,
        "deferred": 1,
        "skipped": 0,
    }
    smtp_server.clear_faults()
    subscribe(store, cfg, ("new@example.com", None, None))
    assert store.activate_pending(pending)
    store.set_status(subscriber_id(store, "paused@example.com"), "active")
    store.set_sections(subscriber_id(store, "slow@example.com"), ("Space",))


def test_a_rerun_does_not_send_the_day_to_who_became_active_since(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811
    smtp_server: SMTPTestServer,
) -> None:
    cfg = smtp_config(config, smtp_server)
    assert not cfg.back_issues  # the default
    start_with_latecomers(store, cfg, smtp_server)
    again = send(store, cfg)
    assert again.complete
    assert again.this_run["sent"] == 1  # slow@, queued before: exactly once, as always
    assert [m.rcpt_tos for m in smtp_server.messages] == [
        ["on@example.com"],
        ["slow@example.com"],
    ]
    for late in ("new@example.com", "pending@example.com", "paused@example.com"):
        assert smtp_server.received_by(late) == []
    assert sending.status(store, SAMPLE_DAY).as_dict()["sent"] == 2
    # And a third run still adds nobody.
    assert send(store, cfg).this_run["sent"] == 0
    assert len(smtp_server.messages) == 2


def test_with_back_issues_a_rerun_sends_it_to_them(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811
    smtp_server: SMTPTestServer,
) -> None:
    cfg = smtp_config(config, smtp_server)
    start_with_latecomers(store, cfg, smtp_server)
    again = send(store, dataclasses.replace(cfg, back_issues=True))
    assert again.complete and again.this_run["sent"] == 4
    for address in ("slow@", "new@", "pending@", "paused@"):
        assert len(smtp_server.received_by(address + "example.com")) == 1
    assert len(smtp_server.received_by("on@example.com")) == 1  # never twice
    assert sending.status(store, SAMPLE_DAY).as_dict()["sent"] == 5


def test_until_a_send_has_queued_anyone_everyone_active_counts(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811
    smtp_server: SMTPTestServer,
) -> None:
    """A first run that died after the send began but before it queued anyone (a bad
    setting, a crash) leaves nobody with the issue: the run after sends it to everyone
    active then, even those who joined or changed their sections meanwhile."""
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, ("early@example.com", None, None))
    assert store.begin_send(SAMPLE_DAY, cfg.approval_required) is not None  # then it died
    subscribe(store, cfg, ("late@example.com", None, None))
    store.set_sections(subscriber_id(store, "early@example.com"), ("Space",))
    result = send(store, cfg)
    assert result.complete and result.this_run["sent"] == 2


def test_back_issues_setting(tmp_path: Path) -> None:
    assert load_config(env={}, cwd=tmp_path).back_issues is False
    assert load_config(env={"DIGEST_BACK_ISSUES": "true"}, cwd=tmp_path).back_issues is True
    (tmp_path / "digest.toml").write_text("back_issues = true\n")
    assert load_config(env={}, cwd=tmp_path).back_issues is True
