"""Webhooks: events written with the changes they report, posted signed to a real local
receiver, tried again while it is down, never lost when a process dies in between."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text, update

from digest.cli import cli
from digest.config import Config, WebhookRule, load_config
from digest.deliver import loop
from digest.errors import ComposeError, ConfigError
from digest.jobs import daily, sending, webhooks
from digest.jobs import digests as digest_jobs
from digest.jobs import ingest as ingest_jobs
from digest.rules import WEBHOOK_EVENTS
from digest.store import Store
from digest.store.tables import WebhookEventRow
from digest.subscribers import new_subscriber

from .conftest import SAMPLE_DAY, SAMPLES
from .smtp_server import SMTPTestServer
from .test_send import smtp_config
from .webhook_receiver import Receiver, receiver, verify  # noqa: F401  (the fixture)

SECRET = "a-webhook-secret-long-enough"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def hooked(config: Config, receiver: Receiver) -> Config:  # noqa: F811
    return dataclasses.replace(config, webhooks=(WebhookRule(receiver.url, SECRET),))


@pytest.fixture
def events_store(hooked: Config) -> Iterator[Store]:
    s = Store(hooked.database_url, events=hooked.webhook_events)
    yield s
    s.close()


def written(store: Store) -> list[tuple[str, dict[str, object]]]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT type, data FROM webhook_events ORDER BY id")).all()
    return [(kind, data if isinstance(data, dict) else json.loads(data)) for kind, data in rows]


def add(store: Store, config: Config, *emails: str) -> None:
    store.upsert_subscribers([new_subscriber(e, None, None, config.section_names) for e in emails])


# ---- what is written -----------------------------------------------------------------------


def test_each_change_writes_its_event_and_nothing_else_does(
    events_store: Store, hooked: Config
) -> None:
    store = events_store
    add(store, hooked, "ann@example.com", "bob@example.com")
    add(store, hooked, "ann@example.com")  # already there: nothing new
    sub_id, added = store.add_pending(new_subscriber("cy@example.com", "Cy", None, ()))
    assert added
    assert store.add_pending(new_subscriber("cy@example.com", None, None, ())) == (sub_id, False)
    assert store.activate_pending(sub_id)
    assert not store.activate_pending(sub_id)  # twice: one confirmation
    ann = store.find_subscriber("ann@example.com")
    assert ann is not None
    store.set_status(ann.id, "unsubscribed")
    store.set_status(ann.id, "unsubscribed")
    store.set_status(ann.id, "paused", event=False)
    store.set_status(ann.id, "unsubscribed", event=False)  # put back: nothing new happened
    # A signup whose confirmation could not be sent is taken back, with its event.
    gone, _ = store.add_pending(new_subscriber("dot@example.com", None, None, ()))
    store.discard_pending(gone)
    kinds = [kind for kind, _ in written(store)]
    assert kinds == [
        "subscriber.created",
        "subscriber.created",
        "subscriber.created",
        "subscriber.confirmed",
        "subscriber.unsubscribed",
    ]
    data = [d for _, d in written(store)]
    assert data[0]["subscriber"] == {
        "id": 1,
        "email": "ann@example.com",
        "name": None,
        "sections": None,
        "status": "active",
    }
    assert data[2]["subscriber"]["status"] == "pending"  # type: ignore[index]
    assert data[3]["subscriber"]["status"] == "active"  # type: ignore[index]
    assert data[4]["subscriber"]["email"] == "ann@example.com"  # type: ignore[index]


def test_a_change_rolled_back_leaves_no_event(events_store: Store, hooked: Config) -> None:
    def rows() -> Iterator[object]:
        yield new_subscriber("dee@example.com", None, None, ())
        raise RuntimeError("the file broke off")

    with pytest.raises(RuntimeError):
        events_store.import_subscribers(rows())  # type: ignore[arg-type]
    assert events_store.find_subscriber("dee@example.com") is None
    ingest_jobs.ingest(events_store, [SAMPLES])
    digest_jobs.compose_day(events_store, hooked, SAMPLE_DAY)
    events_store.begin_send(SAMPLE_DAY, required=False)
    with pytest.raises(ComposeError):  # the send has begun: the day cannot change
        digest_jobs.compose_day(events_store, hooked, SAMPLE_DAY)
    assert [k for k, _ in written(events_store)] == ["digest.composed", "send.started"]


def test_without_webhooks_no_event_is_written(store: Store, config: Config) -> None:
    add(store, config, "ann@example.com")
    ann = store.find_subscriber("ann@example.com")
    assert ann is not None
    store.set_status(ann.id, "unsubscribed")
    assert written(store) == []


def test_a_send_reports_its_start_its_failures_and_its_end_not_each_message(
    events_store: Store, hooked: Config, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(hooked, smtp_server, bounce_limit=1)
    store = events_store
    ingest_jobs.ingest(store, [SAMPLES])
    digest_jobs.compose_day(store, cfg, SAMPLE_DAY)
    store.set_approval(SAMPLE_DAY, "approved", "cli")
    store.set_approval(SAMPLE_DAY, "approved", "cli")  # again: still one event
    add(store, cfg, *(f"r{i}@example.com" for i in range(30)))
    smtp_server.fail("r7@example.com", "550 5.1.1 No such user")
    result = sending.send(store, cfg, sending.SendRequest(SAMPLE_DAY, transport="smtp"))
    assert result.counts.sent == 29 and result.counts.failed == 1
    events = [(k, d) for k, d in written(store) if not k.startswith("subscriber.created")]
    assert [k for k, _ in events] == [
        "digest.composed",
        "digest.approved",
        "send.started",
        "delivery.failed",
        "subscriber.bounced",
        "send.finished",
    ]
    failed = events[3][1]
    assert failed["date"] == SAMPLE_DAY and failed["subscriber"]["email"] == "r7@example.com"  # type: ignore[index]
    assert "550" in str(failed["reply"])
    assert events[4][1]["subscriber"]["status"] == "bounced"  # type: ignore[index]
    counts = events[5][1]["counts"]
    assert counts == {"queued": 0, "sent": 29, "failed": 1, "deferred": 0, "skipped": 0}
    assert events[1][1] == {"date": SAMPLE_DAY, "by": "cli"}
    store.finish_send(store.find_send(SAMPLE_DAY) or 0)  # ended again: no second event
    assert [k for k, _ in written(store)].count("send.finished") == 1
    # A message that went out and bounced later failed after all: one event, once.
    r3 = store.find_subscriber("r3@example.com")
    assert r3 is not None
    target = store.bounce_target(r3.id, SAMPLE_DAY)
    assert target is not None
    store.record_bounce(target, True, "550 5.1.1 gone", cfg.bounce_limit)
    store.record_bounce(target, True, "550 5.1.1 gone", cfg.bounce_limit)
    late = [(k, d) for k, d in written(store)][-2:]
    assert [k for k, _ in late] == ["delivery.failed", "subscriber.bounced"]
    assert late[0][1]["subscriber"] == {"id": r3.id, "email": "r3@example.com"}


# ---- posting -------------------------------------------------------------------------------


def test_events_arrive_signed_once_each_though_the_receiver_refuses_the_first_tries(
    events_store: Store,
    hooked: Config,
    receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhooks, "RETRY_FIRST", 0.0)  # tried again at once, for the test
    add(events_store, hooked, *(f"r{i}@example.com" for i in range(5)))
    receiver.refuse = 7
    first = loop.run(webhooks.dispatch(events_store, hooked))
    assert first.sent == 5 and first.failed == 0
    assert len(receiver.received) == 12
    taken = receiver.taken()
    ids = [r.event["id"] for r in taken]
    assert len(ids) == 5 == len(set(ids))
    assert {r.event["data"]["subscriber"]["email"] for r in taken} == {
        f"r{i}@example.com" for i in range(5)
    }
    for r in receiver.received:
        assert verify(SECRET, r)
        assert r.headers["X-Digest-Event-Id"] == r.event["id"]
        assert r.headers["X-Digest-Event-Type"] == r.event["type"] == "subscriber.created"
        assert SECRET not in r.body.decode()
    # A refused try carried the id its later success did: the receiver can tell a repeat.
    assert {r.event["id"] for r in receiver.received} == set(ids)
    assert not verify("another-secret-of-length", receiver.received[0])
    again = loop.run(webhooks.dispatch(events_store, hooked))
    assert again.sent == 0 and len(receiver.received) == 12


def test_an_endpoint_is_told_only_the_events_it_asked_for(
    events_store: Store,
    hooked: Config,
    receiver: Receiver,  # noqa: F811
) -> None:
    other = Receiver()
    try:
        cfg = dataclasses.replace(
            hooked,
            webhooks=(
                WebhookRule(receiver.url, SECRET),
                WebhookRule(other.url, "another-secret-long-enough", ("subscriber.unsubscribed",)),
            ),
        )
        add(events_store, cfg, "ann@example.com")
        ann = events_store.find_subscriber("ann@example.com")
        assert ann is not None
        events_store.set_status(ann.id, "unsubscribed")
        loop.run(webhooks.dispatch(events_store, cfg))
        assert [r.event["type"] for r in receiver.taken()] == [
            "subscriber.created",
            "subscriber.unsubscribed",
        ]
        assert [r.event["type"] for r in other.taken()] == ["subscriber.unsubscribed"]
        assert verify("another-secret-long-enough", other.taken()[0])
    finally:
        other.stop()


def test_a_receiver_down_for_too_long_fails_the_event_and_the_list_says_why(
    events_store: Store,
    hooked: Config,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg = dataclasses.replace(hooked, webhook_give_up_hours=1.0)
    add(events_store, cfg, "ann@example.com", "bob@example.com")
    with events_store.engine.begin() as conn:  # ann's event is two hours old
        conn.execute(
            update(WebhookEventRow)
            .where(WebhookEventRow.id == 1)  # type: ignore[arg-type]
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
        )
    receiver.refuse = 100
    report = loop.run(webhooks.dispatch(events_store, cfg))
    assert (report.sent, report.retrying, report.failed) == (0, 1, 1)
    # Bob's was not posted after ann's was refused: it waits for the next try with it.
    assert len(receiver.received) == 1
    [endpoint] = webhooks.endpoints(events_store, cfg)
    assert (endpoint.backlog.pending, endpoint.backlog.failed) == (1, 1)
    assert endpoint.backlog.last_error == "HTTP 503"
    with events_store.engine.connect() as conn:
        tries = conn.execute(text("SELECT attempts FROM webhook_deliveries ORDER BY event_id"))
        assert [n for (n,) in tries] == [1, 0]  # bob's was not tried: not counted


def test_two_dispatchers_never_post_the_same_event_at_once(
    events_store: Store, hooked: Config
) -> None:
    add(events_store, hooked, "ann@example.com", "bob@example.com")
    key = webhooks.endpoint_key(hooked.webhooks[0].url)
    events_store.spread_events({key: frozenset(WEBHOOK_EVENTS)})
    lease = dt.timedelta(seconds=30)
    first = events_store.claim_webhooks([key], 1, lease)
    second = events_store.claim_webhooks([key], 10, lease)
    assert len(first) == 1 and len(second) == 1 and first[0].uid != second[0].uid
    assert events_store.claim_webhooks([key], 10, lease) == []


def test_a_dispatcher_that_outlived_its_lease_cannot_overwrite_the_next_ones_result(
    events_store: Store, hooked: Config
) -> None:
    import time

    add(events_store, hooked, "ann@example.com")
    key = webhooks.endpoint_key(hooked.webhooks[0].url)
    events_store.spread_events({key: frozenset(WEBHOOK_EVENTS)})
    [slow] = events_store.claim_webhooks([key], 1, dt.timedelta(seconds=0.05))
    time.sleep(0.1)
    [fast] = events_store.claim_webhooks([key], 1, dt.timedelta(seconds=30))
    events_store.webhook_result(fast, None, None)  # taken
    events_store.webhook_result(slow, "HTTP 500", None)  # too late: must change nothing
    [endpoint] = webhooks.endpoints(events_store, hooked)
    assert (endpoint.backlog.sent, endpoint.backlog.failed) == (1, 0)


# ---- the commands, and a process that dies ---------------------------------------------------


def write_config(tmp_path: Path, config: Config, url: str) -> dict[str, str]:
    (tmp_path / "digest.toml").write_text(
        f'[[webhooks]]\nurl = "{url}"\nsecret = "{SECRET}"\n'
        'events = ["subscriber.created", "subscriber.unsubscribed"]\n',
        encoding="utf-8",
    )
    return {
        **os.environ,
        "DIGEST_CONFIG": str(tmp_path / "digest.toml"),
        "DIGEST_DATABASE_URL": config.database_url,
    }


def test_an_event_survives_the_process_being_killed_before_it_is_posted(
    config: Config,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = write_config(tmp_path, config, receiver.url)
    script = (
        "import os, signal\n"
        "from digest.config import load_config\n"
        "from digest.jobs.database import open_store\n"
        "from digest.subscribers import new_subscriber\n"
        "config = load_config()\n"
        "store = open_store(config)\n"
        "store.upsert_subscribers([new_subscriber('kim@example.com', None, None, ())])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT)
    assert done.returncode == -signal.SIGKILL
    assert receiver.received == []
    listed = CliRunner().invoke(cli, ["webhooks", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["pending"] == 1 and row["url"] == receiver.url
    sent = CliRunner().invoke(cli, ["webhooks", "send"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "1 sent" in sent.output
    [got] = receiver.taken()
    assert got.event["data"]["subscriber"]["email"] == "kim@example.com"
    assert verify(SECRET, got)


def test_webhooks_send_says_which_endpoint_failed_without_its_credentials(
    config: Config,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = receiver.url.replace("http://", "http://user:pass@") + "?key=hidden"
    env = write_config(tmp_path, config, url)
    added = CliRunner().invoke(cli, ["subscribers", "add", "lee@example.com"], env=env)
    assert added.exit_code == 0, added.output
    receiver.refuse = 1
    sent = CliRunner().invoke(cli, ["webhooks", "send"], env=env)
    assert sent.exit_code == 1
    assert "HTTP 503" in sent.output and "pass" not in sent.output and "hidden" not in sent.output


def test_the_cron_job_tells_the_webhooks_at_its_end(
    hooked: Config,
    events_store: Store,
    receiver: Receiver,  # noqa: F811
    smtp_server: SMTPTestServer,
) -> None:
    cfg = dataclasses.replace(smtp_config(hooked, smtp_server), inbox=SAMPLES)
    add(events_store, cfg, "ann@example.com")
    result = daily.run(events_store, cfg, SAMPLE_DAY)
    assert result.webhooks is not None and result.webhooks.sent == 4
    kinds = [r.event["type"] for r in receiver.taken()]
    assert kinds == ["subscriber.created", "digest.composed", "send.started", "send.finished"]


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ('url = "ftp://x"\nsecret = "' + SECRET + '"', "must be an http(s) address"),
        ('url = "https://x"\nsecret = "short"', "at least 16 characters"),
        ('url = "https://exa mple.org/h"\nsecret = "' + SECRET + '"', "http(s) address"),
        ('url = "https://x:port/h"\nsecret = "' + SECRET + '"', "http(s) address"),
        ('url = "https://x"\nsecret = "' + SECRET + '"\nevents = ["send.done"]', "'send.done'"),
        ('url = "https://x"\nsecret = "' + SECRET + '"\ncolour = 1', "unknown key 'colour'"),
    ],
)
def test_a_bad_webhook_table_is_refused_by_name(tmp_path: Path, table: str, error: str) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(f"[[webhooks]]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="webhooks\\[1\\]") as raised:
        load_config(path, env={})
    assert error in str(raised.value)
    assert "short" not in str(raised.value) or "short" in error


def test_the_web_side_posts_events_while_it_runs(
    events_store: Store,
    hooked: Config,
    receiver: Receiver,  # noqa: F811
) -> None:
    import time

    from fastapi.testclient import TestClient

    from digest.web import create_app

    cfg = dataclasses.replace(hooked, secret_key="web-secret")
    add(events_store, cfg, "ann@example.com")
    with TestClient(create_app(cfg, events_store)):
        deadline = time.monotonic() + 20
        while not receiver.taken():
            assert time.monotonic() < deadline, "digest serve did not post the event"
            time.sleep(0.05)
    [got] = receiver.taken()
    assert got.event["type"] == "subscriber.created" and verify(SECRET, got)


def test_removing_a_subscriber_forgets_the_events_about_them(
    events_store: Store,
    hooked: Config,
    receiver: Receiver,  # noqa: F811
) -> None:
    add(events_store, hooked, "ann@example.com", "bob@example.com")
    loop.run(webhooks.dispatch(events_store, hooked))  # ann's sent, and kept a while
    ann = events_store.find_subscriber("ann@example.com")
    assert ann is not None
    events_store.set_status(ann.id, "unsubscribed")  # and one not sent yet
    events_store.remove_subscriber(ann.id)
    left = written(events_store)
    assert [d["subscriber"]["email"] for _, d in left] == ["bob@example.com"]  # type: ignore[index]
    with events_store.engine.connect() as conn:
        orphans = conn.execute(
            text(
                "SELECT count(*) FROM webhook_deliveries WHERE event_id NOT IN "
                "(SELECT id FROM webhook_events)"
            )
        ).scalar()
    assert orphans == 0
    report = loop.run(webhooks.dispatch(events_store, hooked))
    assert report.sent == 0 and len(receiver.taken()) == 2


def test_events_taken_long_ago_are_forgotten_and_those_waiting_are_not(
    events_store: Store,
    hooked: Config,
    receiver: Receiver,  # noqa: F811
) -> None:
    add(events_store, hooked, "ann@example.com")
    loop.run(webhooks.dispatch(events_store, hooked))
    receiver.refuse = 100
    add(events_store, hooked, "bob@example.com")
    loop.run(webhooks.dispatch(events_store, hooked))
    later = dt.datetime.now(dt.UTC) + webhooks.KEEP + dt.timedelta(days=1)
    assert events_store.prune_webhooks(later) == 1
    assert [d["subscriber"]["email"] for _, d in written(events_store)] == ["bob@example.com"]  # type: ignore[index]


def test_an_endpoint_is_named_without_its_credentials() -> None:
    assert (
        webhooks.redacted("https://user:pw@h.example:8443/x?key=1#f") == "https://h.example:8443/x"
    )
    assert webhooks.redacted("http://h:port/x") == "(an address that cannot be read)"
